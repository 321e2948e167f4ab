"use strict";
// WSGIDaemonProcess options that shape the daemon process itself: umask=, user= with
// supplementary-groups=, cpu-priority=, virtual-memory-limit=, socket-user=, and the
// script-user=/script-group= ownership check (403 and mod_wsgi's log lines, as recorded from
// httpd + mod_wsgi 4.9: see docs/groups.md). Most of it needs root (CI runs as root).
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");
const { loadConfig, parseConfigText } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { FileErrorLog } = require("../dist/log/error-log");

const ROOT = typeof process.getuid === "function" && process.getuid() === 0;

// Reports what the process it runs in was given.
const APP = `"use strict";
const fs = require("node:fs");
const path = require("node:path");
/** This process's listening Unix socket paths (its fds matched against /proc/net/unix). */
function listeningSockets() {
  const inodes = new Set();
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try { const m = /^socket:\\[(\\d+)\\]$/.exec(fs.readlinkSync("/proc/self/fd/" + fd)); if (m) inodes.add(m[1]); } catch {}
  }
  return fs.readFileSync("/proc/net/unix", "utf8").split("\\n").slice(1).map((l) => l.trim().split(/\\s+/))
    .filter((f) => f.length >= 8 && inodes.has(f[6]) && f[3] === "00010000").map((f) => f[7]);
}
exports.application = (environ, start_response) => {
  const out = {};
  out.umask = process.umask();
  out.uid = process.getuid();
  out.gid = process.getgid();
  // The kernel's list (process.getgroups() adds the effective gid to it).
  out.groups = /^Groups:(.*)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"))[1].trim().split(/\\s+/).filter(Boolean).map(Number);
  const stat = fs.readFileSync("/proc/self/stat", "utf8");
  out.nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  const as = /^Max address space\\s+(\\S+)\\s+(\\S+)/m.exec(fs.readFileSync("/proc/self/limits", "utf8"));
  out.as = as ? [as[1], as[2]] : null;
  const made = path.join(environ.MADE_DIR || "/tmp", "made-" + process.pid);
  fs.writeFileSync(made, "x", { mode: 0o666 });
  out.fileMode = fs.statSync(made).mode & 0o777;
  fs.unlinkSync(made);
  out.sockets = listeningSockets().map((p) => { const st = fs.statSync(p); return { path: p, uid: st.uid }; });
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(out)];
};
`;

function get(port, p) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: p, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      })
      .on("error", reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A user some /etc/group line lists as a member, and the groups initgroups gives it (null: none here). */
function userWithGroups() {
  const passwd = fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"));
  const groups = fs.readFileSync("/etc/group", "utf8").split("\n").map((l) => l.split(":")).filter((f) => f.length >= 4);
  for (const g of groups) {
    for (const member of g[3].split(",").filter(Boolean)) {
      const pw = passwd.find((f) => f[0] === member);
      if (!pw || pw[2] === "0") continue;
      const ids = new Set([Number(pw[3])]);
      for (const h of groups) if (h[3].split(",").includes(member)) ids.add(Number(h[2]));
      return { name: member, groups: [...ids].sort((a, b) => a - b) };
    }
  }
  return null;
}
const MEMBER = ROOT ? userWithGroups() : null;

function idOf(file, name) {
  const line = fs.readFileSync(file, "utf8").split("\n").find((l) => l.split(":")[0] === name);
  assert.ok(line, `${name} in ${file}`);
  return Number(line.split(":")[2]);
}

describe("WSGIDaemonProcess process options", () => {
  let server;
  let dir;
  let port;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-procopts-"));
    fs.chmodSync(dir, 0o755);
    const made = path.join(dir, "made");
    fs.mkdirSync(made, { mode: 0o777 });
    fs.chmodSync(made, 0o777);
    fs.writeFileSync(path.join(dir, "app.js"), APP);
    // script-user / script-group: one directory per case, the script and its directory owned as the case says.
    const cases = { ok: [0o755, 0o644, "nobody"], root: [0o755, 0o644, null], gw: [0o755, 0o664, "nobody"], dirgw: [0o775, 0o644, "nobody"], grp: [0o755, 0o644, "www-data"] };
    for (const [name, [dmode, fmode, owner]] of Object.entries(cases)) {
      const d = path.join(dir, name);
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, "app.js"), APP);
      fs.chmodSync(d, dmode);
      fs.chmodSync(path.join(d, "app.js"), fmode);
      if (ROOT && owner === "www-data") {
        const gid = idOf("/etc/group", "www-data");
        fs.chownSync(d, 0, gid);
        fs.chownSync(path.join(d, "app.js"), 0, gid);
      } else if (ROOT && owner) {
        const uid = idOf("/etc/passwd", owner);
        fs.chownSync(d, uid, -1);
        fs.chownSync(path.join(d, "app.js"), uid, -1);
      }
    }
    const lines = ["ServerName localhost", "Listen 127.0.0.1:0", `ErrorLog ${dir}/error.log`, `SetEnv MADE_DIR ${made}`];
    const groups = {
      plain: "",
      procs: `umask=0027 cpu-priority=5 virtual-memory-limit=${4 * 1024 ** 3}`,
    };
    if (ROOT) {
      groups.creds = "user=nobody group=nogroup supplementary-groups=www-data,daemon umask=0077 socket-user=www-data home=/tmp";
      // By uid (#N), named at load as mod_wsgi does.
      groups.owner = `script-user=#${idOf("/etc/passwd", "nobody")}`;
      groups.ownergrp = "script-group=www-data";
      groups.lowly = "user=nobody group=nogroup home=/tmp";
      if (MEMBER) groups.member = `user=${MEMBER.name} home=/tmp`;
    }
    for (const [name, option] of Object.entries(groups)) {
      lines.push(`WSGIDaemonProcess ${name} threads=2 ${option}`);
      lines.push(`WSGIScriptAlias /${name} ${dir}/app.js process-group=${name} application-group=%{GLOBAL}`);
    }
    if (ROOT) {
      for (const c of Object.keys(cases)) lines.push(`WSGIScriptAlias /owner-${c} ${dir}/${c}/app.js process-group=owner application-group=%{GLOBAL}`);
      lines.push(`WSGIScriptAlias /ownergrp-grp ${dir}/grp/app.js process-group=ownergrp application-group=%{GLOBAL}`);
      lines.push(`WSGIScriptAlias /ownergrp-ok ${dir}/ok/app.js process-group=ownergrp application-group=%{GLOBAL}`);
    }
    lines.push(`<Directory ${dir}>`, "    Require all granted", "</Directory>");
    fs.writeFileSync(path.join(dir, "site.conf"), lines.join("\n") + "\n");
    const config = loadConfig(path.join(dir, "site.conf"));
    server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(config.errorLog, "info"), accessLog: null, notice: () => {} });
    port = server.addresses[0].port;
  });
  after(async () => {
    await server?.stop(3000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const errorLog = () => fs.readFileSync(path.join(dir, "error.log"), "utf8");
  async function report(p) {
    const r = await get(port, p);
    assert.equal(r.status, 200, `${p}: ${r.body}\n${errorLog()}`);
    return JSON.parse(r.body);
  }

  it("umask=, cpu-priority= and virtual-memory-limit= are the process's own before the application loads", async () => {
    const plain = await report("/plain");
    const r = await report("/procs");
    assert.equal(r.umask, 0o027);
    assert.equal(r.fileMode, 0o640);
    assert.equal(r.nice, plain.nice + 5);
    assert.deepEqual(r.as, [String(4 * 1024 ** 3), String(4 * 1024 ** 3)]);
    assert.deepEqual(plain.as, ["unlimited", "unlimited"]);
    assert.equal(plain.umask, process.umask());
  });

  it("user= with supplementary-groups=: the process has its gid and those groups; socket-user= owns its socket", { skip: !ROOT && "needs root (user= and supplementary-groups= apply only then)" }, async () => {
    const r = await report("/creds");
    assert.equal(r.uid, idOf("/etc/passwd", "nobody"));
    assert.equal(r.gid, idOf("/etc/group", "nogroup"));
    // mod_wsgi's list (checked with httpd): the process's gid, then the listed groups.
    assert.deepEqual(r.groups.slice().sort((a, b) => a - b), [idOf("/etc/group", "nogroup"), idOf("/etc/group", "www-data"), idOf("/etc/group", "daemon")].sort((a, b) => a - b));
    assert.equal(r.umask, 0o077);
    assert.equal(r.fileMode, 0o600);
    assert.equal(r.sockets.length, 1, JSON.stringify(r.sockets));
    assert.equal(r.sockets[0].uid, idOf("/etc/passwd", "www-data"));
    const plain = await report("/plain");
    assert.equal(plain.sockets.length, 1);
    assert.equal(plain.sockets[0].uid, 0);
  });

  it("user= without supplementary-groups=: the user's groups, as initgroups gives them", { skip: !ROOT && "needs root" }, async () => {
    const lowly = await report("/lowly");
    assert.equal(lowly.uid, idOf("/etc/passwd", "nobody"));
    assert.deepEqual(lowly.groups, [idOf("/etc/group", "nogroup")]);
    if (MEMBER) {
      const r = await report("/member");
      assert.deepEqual(r.groups.slice().sort((a, b) => a - b), MEMBER.groups);
    }
  });

  it("script-user=/script-group=: a script not owned so, or writable by others, is refused with 403 and mod_wsgi's reason", { skip: !ROOT && "needs root to chown the scripts" }, async () => {
    assert.equal((await get(port, "/owner-ok")).status, 200);
    assert.equal((await get(port, "/ownergrp-grp")).status, 200);
    const refused = {
      "/owner-root": `Owner of WSGI script file does not match required user for daemon process, user=root: ${dir}/root/app.js`,
      "/owner-gw": `WSGI script file is writable to group: ${dir}/gw/app.js`,
      "/owner-dirgw": `Parent directory of WSGI script file is writable to group: ${dir}/dirgw/app.js`,
      "/owner-grp": `Owner of WSGI script file does not match required user for daemon process, user=root: ${dir}/grp/app.js`,
      "/ownergrp-ok": `Group of WSGI script file does not match required group for daemon process, group=root: ${dir}/ok/app.js`,
    };
    for (const [p, line] of Object.entries(refused)) {
      const r = await get(port, p);
      assert.equal(r.status, 403, p);
      assert.match(r.body, /<title>403 Forbidden<\/title>/);
      const logged = errorLog().split("\n").find((l) => l.endsWith(line));
      assert.ok(logged, `${p}: no '${line}' in\n${errorLog()}`);
      assert.match(logged, /\[wsgi:error\] .*\[client 127\.0\.0\.1:\d+\] /);
    }
    // A chown is seen once the map phase's stat of the script is older than STAT_TTL_MS.
    const { STAT_TTL_MS } = require("../dist/map/walk");
    fs.chownSync(path.join(dir, "ok", "app.js"), 0, -1);
    await sleep(STAT_TTL_MS + 50);
    assert.equal((await get(port, "/owner-ok")).status, 403);
    fs.chownSync(path.join(dir, "ok", "app.js"), idOf("/etc/passwd", "nobody"), -1);
    await sleep(STAT_TTL_MS + 50);
    assert.equal((await get(port, "/owner-ok")).status, 200);
  });
});

describe("WSGIDaemonProcess options without a meaning in Node", () => {
  it("are accepted with a notice naming the file, line and option", () => {
    const cfg = parseConfigText("WSGIDaemonProcess a stack-size=524288 send-buffer-size=65536\nWSGIDaemonProcess b receive-buffer-size=65536 response-flush-delay=10 server-metrics=On\n", "t.conf");
    const n = cfg.notices;
    assert.equal(n.length, 5, JSON.stringify(n));
    assert.match(n[0], /^t\.conf:1: WSGIDaemonProcess: stack-size= has no effect in nodewsgi: /);
    assert.match(n[1], /^t\.conf:1: WSGIDaemonProcess: send-buffer-size= has no effect in nodewsgi: /);
    assert.match(n[2], /^t\.conf:2: WSGIDaemonProcess: receive-buffer-size= has no effect/);
    assert.match(n[3], /^t\.conf:2: WSGIDaemonProcess: response-flush-delay= has no effect/);
    assert.match(n[4], /^t\.conf:2: WSGIDaemonProcess: server-metrics= has no effect/);
  });

  it("virtual-memory-limit= below what a Node process needs to start is a configuration error", () => {
    assert.throws(() => parseConfigText("WSGIDaemonProcess a virtual-memory-limit=1000000000\n", "t.conf"), /t\.conf:1.*virtual-memory-limit must be 0 or at least 2147483648/s);
    assert.equal(parseConfigText(`WSGIDaemonProcess a virtual-memory-limit=${2 ** 31}\n`, "t.conf").notices.length, 0);
  });
});

describe("WSGIDaemonProcess process options that cannot be applied", () => {
  async function startError(options, env = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-procopts-bad-"));
    try {
      fs.writeFileSync(path.join(dir, "app.js"), APP);
      fs.writeFileSync(path.join(dir, "site.conf"), `ServerName localhost\nListen 127.0.0.1:0\nErrorLog ${dir}/error.log\n\nWSGIDaemonProcess bad ${options}\nWSGIScriptAlias / ${dir}/app.js process-group=bad\n`);
      const config = loadConfig(path.join(dir, "site.conf"));
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(config.errorLog, "info"), accessLog: null, notice: () => {} });
        await server.stop(1000);
        return null;
      } catch (err) {
        return { err, conf: path.join(dir, "site.conf") };
      } finally {
        for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("virtual-memory-limit= without prlimit on PATH: the group does not start, naming file and line", async () => {
    const r = await startError(`virtual-memory-limit=${2 ** 32}`, { PATH: "/nonexistent" });
    assert.ok(r, "the server started");
    assert.equal(r.err.code, "E_DAEMON_VMLIMIT");
    assert.ok(r.err.message.startsWith(`${r.conf}:5: WSGIDaemonProcess bad: virtual-memory-limit= needs`), r.err.message);
  });

  it("an unknown supplementary group or socket-user is an error naming file and line", { skip: !ROOT && "applies only as root" }, async () => {
    const g = await startError("user=nobody supplementary-groups=www-data,no-such-group-here");
    assert.ok(g, "the server started");
    assert.equal(g.err.code, "E_DAEMON_GROUP");
    assert.ok(g.err.message.startsWith(`${g.conf}:5: WSGIDaemonProcess bad: unknown supplementary group 'no-such-group-here'`), g.err.message);
    const u = await startError("socket-user=no-such-user-here");
    assert.ok(u, "the server started");
    assert.equal(u.err.code, "E_DAEMON_USER");
    assert.ok(u.err.message.includes(":5: WSGIDaemonProcess bad: unknown socket-user 'no-such-user-here'"), u.err.message);
  });
});

describe("socket-user", () => {
  it("chowns only a socket, never what a symlink in its place points to", { skip: process.getuid?.() !== 0 && "needs root" }, () => {
    const { chownSocket } = require("../dist/groups/process-setup");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-sockuser-"));
    try {
      const target = path.join(dir, "precious");
      fs.writeFileSync(target, "root's");
      const link = path.join(dir, "c1.sock");
      fs.symlinkSync(target, link);
      const lines = [];
      chownSocket({ socketUid: 65534 }, link, { log: (level, module, msg) => lines.push(`${level} ${msg}`), close() {} });
      assert.equal(fs.statSync(target).uid, 0, "the symlink's target was given away");
      assert.match(lines.join("\n"), /alert .*Couldn't change owner of unix domain socket .*not a socket/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("script-user / script-group by number", () => {
  it("a #uid or #gid with no name is refused when the group is made, naming the directive", () => {
    const { scriptOwnerCheck } = require("../dist/groups/script-owner");
    const where = { file: "/etc/site.conf", line: 7 };
    assert.throws(() => scriptOwnerCheck({ name: "g", where, scriptUser: "#987654" }), { code: "E_DAEMON_SCRIPT_OWNER", message: /^\/etc\/site\.conf:7: WSGIDaemonProcess g: Couldn't determine uid from script user\. \(#987654\)$/ });
    assert.throws(() => scriptOwnerCheck({ name: "g", where, scriptGroup: "#987654" }), { code: "E_DAEMON_SCRIPT_OWNER" });
    assert.equal(typeof scriptOwnerCheck({ name: "g", where, scriptUser: "#0" }), "function");
  });
});

describe("user= by a uid with no passwd entry", () => {
  it("gets its gid alone (setgroups), not initgroups, which would fail at every start", { skip: process.getuid?.() !== 0 && "needs root" }, () => {
    const { resolveProcessSetup } = require("../dist/groups/process-setup");
    const spec = { name: "g", where: { file: "f", line: 1 }, user: "#987654", supplementaryGroups: [], home: "/tmp" };
    const setup = resolveProcessSetup(spec, { uid: 987654, gid: 987654 }, () => null, { log() {}, close() {} });
    assert.deepEqual(setup.init.credentials, { uid: 987654, gid: 987654, groups: [987654] });
    const named = resolveProcessSetup({ ...spec, user: "nobody" }, { uid: 65534, gid: 65534 }, () => null, { log() {}, close() {} });
    assert.equal(named.init.credentials.initgroups, "nobody");
    // Without home= it would have no working directory to start in (its user's home): refused.
    const { home, ...homeless } = spec;
    assert.throws(() => resolveProcessSetup(homeless, { uid: 987654, gid: 987654 }, () => null, { log() {}, close() {} }), { code: "E_DAEMON_USER", message: "f:1: WSGIDaemonProcess g: uid 987654 has no entry in /etc/passwd, so no home directory to start in: give home=" });
  });
});
