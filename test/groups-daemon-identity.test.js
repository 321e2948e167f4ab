"use strict";
// Defence in depth for daemon processes that switch user (user=, group=,
// supplementary-groups=): the child checks who it is after dropping privileges and that root
// cannot be taken back, a process that cannot be set up is reported and started again only
// after mod_wsgi's delay (not in a loop), and NODE_OPTIONS' code-loading options do not reach a
// process that starts as root. Real processes; the switching cases need root (CI runs as root).
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const os = require("node:os");
const { daemonFixture, request, run, waitFor } = require("./helpers/daemon-groups");
const { privilegedNodeOptions, splitNodeOptions } = require("../dist/groups/child-env");
const { identityProblem } = require("../dist/groups/process-setup");

const ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const { root, script, group } = daemonFixture("nwsgi-identity-");
// Readable by the users the processes switch to.
fs.chmodSync(root, 0o755);
const CHILD = path.join(__dirname, "..", "dist", "groups", "daemon-child.js");
const ENV_APP = script(
  "env.js",
  `exports.application = (environ, start_response) => {
     start_response("200 OK", [["Content-Type", "application/json"]]);
     return [JSON.stringify({ uid: process.getuid(), nodeOptions: process.env.NODE_OPTIONS ?? null, preloaded: globalThis.__preloadedBy ?? null, cwd: process.cwd() })];
   };`,
);
fs.chmodSync(ENV_APP, 0o644);
// The groups' timers are unref'd (a server's listener keeps its loop alive): this one stands in.
let keepAlive;
before(() => (keepAlive = setInterval(() => {}, 1000)));
after(() => clearInterval(keepAlive));

describe("daemon process identity check", () => {
  it("accepts the process's own identity and names what differs", () => {
    const me = { uid: process.getuid(), gid: process.getgid() };
    assert.equal(identityProblem(me), null);
    assert.match(identityProblem({ uid: me.uid + 1, gid: me.gid }), new RegExp(`^the process runs as uid=${me.uid} euid=${me.uid} gid=${me.gid} egid=${me.gid}, expected uid=${me.uid + 1} gid=${me.gid}$`));
    assert.match(identityProblem({ ...me, groups: [987654] }), /^the process has supplementary groups .*, expected 987654$/);
  });

  // What a setuid() that returned without switching would leave (mod_wsgi's comment: Linux could
  // fail it with EAGAIN at the target user's process limit), or one that switched only the
  // effective id: the process must not run an application either way.
  const broken = {
    "a setuid() that did nothing": "process.setuid = () => {};",
    "a setuid() that switched only the effective uid": "process.setuid = (u) => process.seteuid(u);",
  };
  for (const [what, patch] of Object.entries(broken)) {
    it(`a process left as root by ${what} exits before any application; the next one starts only after the delay`, { skip: !ROOT && "needs root (user= applies only then)" }, async () => {
      const name = "id" + Object.keys(broken).indexOf(what);
      const wrapper = script(`${name}-child.js`, `${patch}\nrequire(${JSON.stringify(CHILD)}).main();\n`);
      const { g, log } = group(name, { user: "nobody", group: "nogroup", home: "/tmp", connectTimeout: 1 }, { childModule: wrapper });
      const s = await run(g, request(ENV_APP));
      // No process ever served: connect-timeout's 503.
      assert.equal(s.status, 503);
      await waitFor(() => log.lines.some((l) => l.includes("could not be set up")), "the failed start to be reported");
      const text = log.lines.join("\n");
      assert.match(text, /\[wsgi:alert\] \[pid \d+\] \[process id\d\] mod_wsgi \(pid=\d+\): Daemon process identity check failed: the process runs as uid=0 euid=(0|65534) gid=\d+ egid=\d+, expected uid=65534 gid=\d+\./);
      assert.match(text, /\[wsgi:alert\] \[pid \d+\] \[process id\d\] mod_wsgi \(pid=\d+\): Failure to configure the daemon process correctly and process left in unspecified state\. Restarting daemon process after delay\./);
      assert.match(text, new RegExp(`\\[wsgi:error\\] mod_wsgi: Daemon process '${name}' \\(pid \\d+\\) could not be set up, starting another in 20 seconds\\.`));
      assert.doesNotMatch(text, /died unexpectedly/);
      // Not started again in a loop: one start in the next second and a half.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(log.lines.filter((l) => l.includes("Starting process")).length, 1, text);
      await g.close(500);
    });
  }
});

describe("NODE_OPTIONS of a process that starts as root", () => {
  it("a process that switches user gets only the options that load no code; one that does not gets them all", { skip: !ROOT && "needs root" }, async () => {
    const pre = script("pre.js", `globalThis.__preloadedBy = process.getuid();\n`);
    fs.chmodSync(pre, 0o644);
    const env = { ...process.env, NODE_OPTIONS: `--require ${pre} --no-warnings --max-old-space-size=200` };
    const lowly = group("lowly", { user: "nobody", group: "nogroup", home: "/tmp" }, { env });
    const plain = group("plain", {}, { env });
    const a = await run(lowly.g, request(ENV_APP));
    assert.equal(a.status, 200, lowly.log.lines.join("\n"));
    assert.deepEqual(JSON.parse(a.body), { uid: 65534, nodeOptions: "--no-warnings --max-old-space-size=200", preloaded: null, cwd: "/tmp" });
    assert.ok(lowly.log.lines.includes(`[wsgi:notice] mod_wsgi: Daemon process 'lowly': NODE_OPTIONS '--require ${pre}' not passed on: the process starts as root and switches user itself, so it would run them as root.`), lowly.log.lines.join("\n"));
    const b = await run(plain.g, request(ENV_APP));
    assert.equal(JSON.parse(b.body).preloaded, 0);
    assert.equal(JSON.parse(b.body).nodeOptions, env.NODE_OPTIONS);
    assert.equal(plain.log.lines.filter((l) => l.includes("NODE_OPTIONS")).length, 0);
  });

  it("splits as Node does and drops every option not known to be harmless, with its value", () => {
    assert.deepEqual(splitNodeOptions(`a "b c" "d\\"e"  f`), ["a", "b c", 'd"e', "f"]);
    const cases = [
      ["--max-old-space-size=100 --require /x.js", "--max-old-space-size=100", ["--require /x.js"]],
      ["-r ./a.js --no-warnings", "--no-warnings", ["-r ./a.js"]],
      [`--import=./b.mjs "--title=a b"`, `"--title=a b"`, ["--import=./b.mjs"]],
      ["--inspect=0.0.0.0:9229 --enable-source-maps", "--enable-source-maps", ["--inspect=0.0.0.0:9229"]],
      ["--loader x --experimental-loader=y --openssl-config=/tmp/c", "", ["--loader x", "--experimental-loader=y", "--openssl-config=/tmp/c"]],
      // A kept option's value as the next word stays with it (alone, `--title` stops Node at start).
      ["--unhandled-rejections strict --require /x.js", "--unhandled-rejections=strict", ["--require /x.js"]],
      ["--title -x --dns-result-order ipv4first", "--title=-x --dns-result-order=ipv4first", []],
      ["--max_old_space_size=100 --trace_warnings", "--max-old-space-size=100 --trace-warnings", []],
    ];
    for (const [value, kept, dropped] of cases) assert.deepEqual(privilegedNodeOptions(value), { kept, dropped }, value);
  });
});

describe("the daemon process's working directory (home=)", () => {
  const homeOf = (user) => fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === user)?.[5];
  const cwdOf = async (name, over) => {
    const { g, log } = group(name, { socketTimeout: 3, ...over });
    const s = await run(g, request(ENV_APP));
    return { status: s.status, cwd: s.status === 200 ? JSON.parse(s.body).cwd : null, log };
  };

  it("home= when given; without it the server's own working directory when the process runs as the server's user", async () => {
    assert.deepEqual((await cwdOf("home-given", { home: "/tmp" })).cwd, "/tmp");
    assert.deepEqual((await cwdOf("home-none", {})).cwd, process.cwd());
  });

  it("a home= that cannot be entered: the process is not set up, logged as mod_wsgi logs it", async () => {
    const r = await cwdOf("home-missing", { home: "/nonexistent-nodewsgi-home" });
    assert.equal(r.status, 504);
    await waitFor(() => r.log.lines.some((l) => l.includes("could not be set up")), "the failed start to be reported");
    assert.match(r.log.lines.join("\n"), /\[wsgi:alert\] \[pid \d+\] \[process home-missing\] \(2\)No such file or directory: mod_wsgi \(pid=\d+\): Unable to change working directory to '\/nonexistent-nodewsgi-home'\./);
  });

  it("user= without home=: the user's home directory, entered as the user; group= alone keeps the server's", { skip: !ROOT && "needs root (user= applies only then)" }, async () => {
    assert.equal((await cwdOf("home-daemon", { user: "daemon" })).cwd, homeOf("daemon"));
    assert.equal((await cwdOf("home-group", { group: "daemon" })).cwd, process.cwd());
    // A directory that is root's alone: the user cannot enter it, whoever forked the process.
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), "nwsgi-closed-"));
    fs.chmodSync(closed, 0o700);
    const blocked = await cwdOf("home-root", { user: "daemon", home: closed });
    assert.equal(blocked.status, 504);
    await waitFor(() => blocked.log.lines.some((l) => l.includes("could not be set up")), "the failed start to be reported");
    assert.ok(blocked.log.lines.some((l) => /\(13\)Permission denied: mod_wsgi \(pid=\d+\): Unable to change working directory to '/.test(l) && l.includes(`'${closed}'.`)), blocked.log.lines.join("\n"));
    fs.rmdirSync(closed);
    const nobodyHome = homeOf("nobody");
    if (nobodyHome && !fs.existsSync(nobodyHome)) {
      const missing = await cwdOf("home-nobody", { user: "nobody" });
      assert.equal(missing.status, 504);
      await waitFor(() => missing.log.lines.some((l) => l.includes("could not be set up")), "the failed start to be reported");
      assert.ok(missing.log.lines.join("\n").includes(`(2)No such file or directory: mod_wsgi (pid=`) && missing.log.lines.join("\n").includes(`Unable to change working directory to home directory '${nobodyHome}' for uid=65534.`), missing.log.lines.join("\n"));
    }
  });
});
