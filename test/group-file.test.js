"use strict";
// AuthGroupFile and `Require group` (mod_authz_groupfile): the file format as httpd 2.4.71 reads
// it, the provider inside the Require tree, the log lines, and a server answering with them.
// test/fixtures/conformance/scenarios/require-group.json holds the recorded httpd answers.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseGroupFile, confWords, GroupFileCache } = require("../dist/auth/group-file");
const { authorize, compileRequire } = require("../dist/auth");
const { parseConfigText, parseHtaccess } = require("../dist/config");
const { writeSite, startServer, exchange, parseResponses } = require("./helpers/raw-http");

const PW = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="; // "password"
const basic = (u, p = "password") => "Basic " + Buffer.from(`${u}:${p}`, "latin1").toString("base64");

test("group file format: comments, continuation, trimming, quoting, repeated groups, case of group names", () => {
  const groups = parseGroupFile([
    "# comment", "   # indented comment", "admins: alice",
    "staff: bob \\", "  carol", // continuation: the backslash goes, the next line is joined as is
    "joined: dave\\", "bob", // ... so `dave\` + `bob` is one member, davebob
    "Web Team  : erin", "dup: alice", "dup: frank",
    "quoted: \"joe smith\" 'x\\'y'\r", "nocolon gina", "  indented:\tgina\t", "a\0b: nul", "",
  ].join("\n"));
  const of = (u) => [...(groups.get(u) ?? [])].sort();
  assert.deepEqual(of("alice"), ["admins", "dup"]);
  assert.deepEqual(of("bob"), ["staff"]);
  assert.deepEqual(of("carol"), ["staff"]);
  assert.deepEqual(of("dave"), []);
  assert.deepEqual(of("davebob"), ["joined"]);
  assert.deepEqual(of("erin"), ["web team"]);
  assert.deepEqual(of("frank"), ["dup"]);
  assert.deepEqual(of("joe smith"), ["quoted"]);
  assert.deepEqual(of("x'y"), ["quoted"]);
  assert.deepEqual(of("gina"), ["indented"]);
  assert.deepEqual(of("nul"), []); // the line's text ends at the NUL: `a`, no colon
  assert.equal(groups.has("Alice"), false);
});

test("confWords splits as ap_getword_conf", () => {
  assert.deepEqual(confWords(` a  "b c" 'd\\'e' f\\\\g "h\\"i" 'unterminated j`), ["a", "b c", "d'e", "f\\g", 'h"i', "unterminated j"]);
  assert.deepEqual(confWords(""), []);
});

test("GroupFileCache re-reads a changed file and reports an unreadable one", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-groups-"));
  const file = path.join(dir, "groups");
  fs.writeFileSync(file, "a: alice\n");
  const cache = new GroupFileCache();
  assert.deepEqual([...await cache.groupsFor(file, "alice")], ["a"]);
  fs.writeFileSync(file, "b: alice\nc: bob\n");
  assert.deepEqual([...await cache.groupsFor(file, "alice")], ["b"]);
  await assert.rejects(cache.groupsFor(path.join(dir, "missing"), "alice"), (e) => e.code === "AUTH_GROUPFILE" && e.cause.code === "ENOENT");
  await assert.rejects(cache.groupsFor(dir, "alice"), (e) => e.code === "AUTH_GROUPFILE" && e.cause.code === "EBADF");
});

function memLog() {
  const lines = [];
  return { lines, log: (level, module, msg) => lines.push(`[${module}:${level}] ${msg}`), close() {} };
}

test("Require group in the Require tree: no user asks for one; groups, not group, user; log lines as httpd's", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-groups-"));
  const userFile = path.join(dir, "htpasswd");
  const groupFile = path.join(dir, "groups");
  fs.writeFileSync(userFile, ["alice", "bob", "carol", "dave"].map((u) => `${u}:${PW}\n`).join(""));
  fs.writeFileSync(groupFile, "Admins: alice\nstaff: bob carol\n");
  const auth = { type: "Basic", name: "G", userFile, groupFile };
  const req = (user) => ({ remoteAddress: "127.0.0.1", uri: "/g", authorization: user && basic(user) });
  const run = async (require_, user, a = auth) => {
    const log = memLog();
    const r = await authorize(req(user), compileRequire(require_), a, { log });
    return { status: r.ok ? 200 : r.status, user: r.ok ? r.user : undefined, log: log.lines };
  };
  assert.equal((await run(["group admins"], undefined)).status, 401);
  assert.deepEqual((await run(["group nobody ADMINS"], "alice")).user, "alice");
  assert.equal((await run(["group admins"], "bob")).status, 401);
  assert.match((await run(["group admins"], "bob")).log.join("\n"), /\[authz_groupfile:debug\] \[client 127\.0\.0\.1\] AH01667: Authorization of user bob to access \/g failed, reason: user is not part of the 'require'ed group\(s\)\./);
  assert.match((await run(["group admins"], "dave")).log.join("\n"), /\[authz_groupfile:info\] \[client 127\.0\.0\.1\] AH01666: Authorization of user dave to access \/g failed, reason: user doesn't appear in group file \(.*groups\)\./);
  assert.equal((await run({ all: ["valid-user", "not group admins"] }, "bob")).status, 200);
  assert.equal((await run({ all: ["valid-user", "not group admins"] }, "alice")).status, 401);
  assert.equal((await run(["group admins", "user bob"], "bob")).status, 200);
  // A group name with spaces, quoted on the Require line.
  fs.writeFileSync(path.join(dir, "groups2"), "web team: carol\n");
  assert.equal((await run(['group "web team"'], "carol", { ...auth, groupFile: path.join(dir, "groups2") })).status, 200);
  // The group file cannot be opened: denied (401 for an authenticated user), with apr's errno first.
  const missing = await run(["group admins"], "alice", { ...auth, groupFile: path.join(dir, "nope") });
  assert.equal(missing.status, 401);
  assert.match(missing.log[0], /^\[authz_groupfile:error\] \(2\)No such file or directory: \[client 127\.0\.0\.1\] AH01665: Could not open group file: .*nope$/);
  assert.match(missing.log[1], /\[authz_core:error\] \[client 127\.0\.0\.1\] AH01631: user alice: authorization failure for "\/g": $/);
  const nofile = await run(["group admins"], "alice", { ...auth, groupFile: undefined });
  assert.equal(nofile.status, 401);
  assert.match(nofile.log[0], /^\[authz_groupfile:error\] \[client 127\.0\.0\.1\] AH01664: No group file was specified in the configuration$/);
  // Nothing read when no Require group is evaluated with a user.
  assert.equal(compileRequire(["valid-user"]).needsGroups, false);
  assert.equal(compileRequire({ all: ["valid-user", "not group x"] }).needsGroups, true);
});

test("configuration: AuthGroupFile relative to ServerRoot, in .htaccess with AuthConfig; Require group checked", () => {
  const cfg = parseConfigText("ServerRoot /srv\n<Directory /x>\nAuthGroupFile conf/groups\nRequire group a \"b c\"\n</Directory>\n", "t.conf");
  const sec = cfg.main.sections.find((s) => s.kind === "Directory" && s.pattern === "/x/");
  assert.equal(sec.settings.authGroupFile.value, "/srv/conf/groups");
  assert.deepEqual(sec.settings.authz.items[0].args, ["a", "b c"]);
  assert.throws(() => parseConfigText("<Directory /x>\nRequire group %{REMOTE_USER}\n</Directory>\n", "t.conf"), /t\.conf:2: Require: Require group: expressions .*not supported/);
  assert.throws(() => parseConfigText("<Directory /x>\nRequire group\n</Directory>\n", "t.conf"), /Require/);
  // As httpd: AuthGroupFile is a per-directory setting (OR_AUTHCFG) and takes one file.
  assert.throws(() => parseConfigText("AuthGroupFile /x\n", "t.conf"), /t\.conf:1: AuthGroupFile: not allowed here/);
  assert.throws(() => parseConfigText("<Location /x>\nAuthGroupFile a b\n</Location>\n", "t.conf"), /t\.conf:2: AuthGroupFile: takes 1 argument/);
  const ht = parseHtaccess("AuthGroupFile groups\nRequire group a\n", "/srv/site/.htaccess", { allowOverride: ["AuthConfig"] }, "/etc/root");
  assert.deepEqual(ht.errors, []);
  assert.equal(ht.settings.authGroupFile.value, "/etc/root/groups");
  assert.notDeepEqual(parseHtaccess("AuthGroupFile groups\n", "/srv/site/.htaccess", { allowOverride: ["FileInfo"] }).errors, []);
});

test("server: Require group in <Directory> and .htaccess (paths relative to ServerRoot); a changed group file is seen", async () => {
  const site = writeSite("nodewsgi-groups-site-", ({ work, htdocs }) => ({
    files: {
      "conf/htpasswd": ["alice", "bob", "carol"].map((u) => `${u}:${PW}\n`).join(""),
      "conf/groups": "admins: alice\nstaff: bob \\\n carol\n",
      "htdocs/adm/f.txt": "adm\n",
      "htdocs/ht/f.txt": "ht\n",
      "htdocs/ht/.htaccess": "AuthType Basic\nAuthName H\nAuthUserFile conf/htpasswd\nAuthGroupFile conf/groups\nRequire group staff\n",
    },
    config: `ServerRoot "${work}"
<Directory "${htdocs}">
    Require all granted
</Directory>
<Directory "${htdocs}/adm">
    AuthType Basic
    AuthName "A"
    AuthUserFile conf/htpasswd
    AuthGroupFile conf/groups
    Require group admins
</Directory>
<Directory "${htdocs}/ht">
    AllowOverride AuthConfig
</Directory>
`,
  }));
  const { server, port } = await startServer("node", site);
  try {
    const get = async (p, user) => {
      const r = await exchange(port, `GET ${p} HTTP/1.1\r\nHost: a\r\n${user ? `Authorization: ${basic(user)}\r\n` : ""}Connection: close\r\n\r\n`);
      return parseResponses(r.raw)[0];
    };
    assert.equal((await get("/adm/f.txt")).status, 401);
    assert.equal((await get("/adm/f.txt", "alice")).status, 200);
    assert.equal((await get("/adm/f.txt", "bob")).status, 401);
    assert.equal((await get("/ht/f.txt", "carol")).status, 200);
    assert.equal((await get("/ht/f.txt", "alice")).status, 401);
    fs.writeFileSync(path.join(site.work, "conf/groups"), "admins: alice bob\n");
    assert.equal((await get("/adm/f.txt", "bob")).status, 200);
    assert.equal((await get("/ht/f.txt", "carol")).status, 401);
    fs.rmSync(path.join(site.work, "conf/groups"));
    assert.equal((await get("/adm/f.txt", "alice")).status, 401);
  } finally {
    await server.stop();
  }
  const log = fs.readFileSync(path.join(site.work, "error.log"), "latin1");
  assert.match(log, /\[authz_groupfile:error\] \[pid \d+\] \(2\)No such file or directory: \[client 127\.0\.0\.1:\d+\] .*AH01665: Could not open group file: .*\/conf\/groups\n/);
});
