"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const {
  authorize, compileRequire, evaluateRequire, verifyPassword, HtpasswdCache, md5Crypt, parseIpRule, ipMatches,
} = require("../dist/auth");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-auth-"));
const userFile = path.join(dir, "htpasswd");
// Entries made by Apache's own htpasswd (-s, -m, -B, -p, -d).
fs.writeFileSync(userFile, [
  "# comment",
  "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
  "bob:$apr1$LtFn3MLU$yK1HYaNpN6l9WOriAEnHI0",
  "carol:$2y$05$wHUAxwu.laUuR7QVVr6Zh.LXdFds.gXH8N9e5GgXO24Mx/6MH8uRa",
  "dave:plain",
  "erin:HP9xhU98eob/g",
  "",
].join("\n"));

let hasBcrypt = true;
try { require.resolve("bcryptjs"); } catch { hasBcrypt = false; }

function memLog() {
  const lines = [];
  return { lines, log: (level, module, msg) => lines.push(`[${module}:${level}] ${msg}`), close() {} };
}
const basic = (u, p) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const AUTH = { type: "Basic", name: "Restricted", userFile };
const local = (authorization, extra = {}) => ({ remoteAddress: "127.0.0.1", uri: "/secure", authorization, ...extra });

test("basic-auth conformance: 401 without or with bad credentials, REMOTE_USER/AUTH_TYPE when good", async () => {
  const validUser = compileRequire(["valid-user"]);
  let r = await authorize(local(undefined), validUser, AUTH);
  assert.deepEqual(r, { ok: false, status: 401, headers: [["WWW-Authenticate", 'Basic realm="Restricted"']] });
  // The recorded requests, verbatim.
  r = await authorize(local("Basic YWxpY2U6cGFzc3dvcmQ="), validUser, AUTH);
  assert.deepEqual(r, { ok: true, user: "alice", environ: { REMOTE_USER: "alice", AUTH_TYPE: "Basic" } });
  r = await authorize(local("Basic YWxpY2U6d3Jvbmc="), validUser, AUTH);
  assert.equal(r.status, 401);
  r = await authorize(local("Basic bm9ib2R5OnBhc3N3b3Jk"), validUser, AUTH);
  assert.equal(r.status, 401);
});

test("access-control conformance: all denied 403, all granted ok without authentication", async () => {
  assert.deepEqual(await authorize(local(), compileRequire(["all denied"]), {}), { ok: false, status: 403 });
  assert.deepEqual(await authorize(local(basic("alice", "password")), compileRequire(["all granted"]), AUTH),
    { ok: true, environ: {} });
});

test("password formats as Apache on Linux verifies them", async () => {
  const check = async (u, p) => {
    const log = memLog();
    const r = await authorize(local(basic(u, p)), compileRequire(["valid-user"]), AUTH, { log });
    return { ok: r.ok, status: r.status, log: log.lines.join("\n") };
  };
  assert.equal((await check("alice", "password")).ok, true);
  assert.equal((await check("bob", "secret")).ok, true);
  assert.equal((await check("bob", "secreT")).status, 401);
  if (hasBcrypt) {
    assert.equal((await check("carol", "pw3")).ok, true);
    assert.equal((await check("carol", "pw4")).status, 401);
  } else {
    assert.match((await check("carol", "pw3")).log, /bcryptjs/);
  }
  // Apache on Linux refuses plain text too (crypt() of it never equals it).
  const plain = await check("dave", "plain");
  assert.equal(plain.status, 401);
  assert.match(plain.log, /plain-text passwords are not accepted/);
  // DES crypt works in Apache (system crypt) but is not implemented here: refused, with the reason logged.
  const des = await check("erin", "crypt");
  assert.equal(des.status, 401);
  assert.match(des.log, /DES hashes are not supported/);
  const nobody = await check("nobody", "x");
  assert.match(nobody.log, /AH01618: user nobody not found/);
});

test("md5-crypt matches htpasswd -m and openssl passwd -1", async () => {
  assert.equal(md5Crypt(Buffer.from("secret"), "$apr1$", "LtFn3MLU"), "$apr1$LtFn3MLU$yK1HYaNpN6l9WOriAEnHI0");
  assert.equal(md5Crypt(Buffer.from("hello"), "$1$", "abcdefgh"), "$1$abcdefgh$rwnEbRiN0agqVgZBovWNQ/");
  assert.deepEqual(await verifyPassword(Buffer.from("hello"), "$1$abcdefgh$rwnEbRiN0agqVgZBovWNQ/"), { ok: true });
});

test("credential parsing: scheme case, malformed, no colon, other schemes", async () => {
  const req = compileRequire(["valid-user"]);
  assert.equal((await authorize(local("basic " + Buffer.from("alice:password").toString("base64")), req, AUTH)).ok, true);
  for (const h of ["Basic !!!", "Basic YWxpY2U=", "Digest username=alice", "Basic"]) {
    const r = await authorize(local(h), req, AUTH);
    assert.equal(r.status, 401, h);
    assert.deepEqual(r.headers, [["WWW-Authenticate", 'Basic realm="Restricted"']]);
  }
  const r = await authorize(local(undefined), req, { ...AUTH, name: 'say "hi"' });
  assert.equal(r.headers[0][1], 'Basic realm="say \\"hi\\""');
});

test("500s: missing AuthUserFile file, missing AuthName, unknown AuthType; all logged", async () => {
  const req = compileRequire(["valid-user"]);
  let log = memLog();
  let r = await authorize(local(basic("alice", "password")), req, { ...AUTH, userFile: path.join(dir, "missing") }, { log });
  assert.equal(r.status, 500);
  assert.match(log.lines.join(), /AH01620: Could not open password file/);
  log = memLog();
  r = await authorize(local(basic("alice", "password")), req, { type: "Basic", userFile }, { log });
  assert.equal(r.status, 500);
  assert.match(log.lines.join(), /AH01615/);
  r = await authorize(local(basic("alice", "password")), req, { type: "Form", name: "x", userFile });
  assert.equal(r.status, 500);
  // No AuthType at all: httpd 2.4.71 answers 500 (AH00027: no authentication module took the
  // request, and authorization needs a user), with or without credentials.
  log = memLog();
  r = await authorize(local(undefined), req, {}, { log });
  assert.deepEqual(r, { ok: false, status: 500, reason: "no authentication configured for a requirement that needs a user" });
  assert.match(log.lines.join(), /\[core:error\] .*AH00027: No authentication done but request not allowed without authentication for \/secure\. Authentication not configured\?/);
  assert.equal((await authorize(local(basic("alice", "password")), req, { type: "None" })).status, 500);
});

test("Require user / ip in an implicit RequireAny", async () => {
  const req = compileRequire(["user bob", "ip 10.0.0.0/8"]);
  assert.equal((await authorize(local(undefined), req, AUTH)).status, 401);
  assert.equal((await authorize(local(basic("alice", "password")), req, AUTH)).status, 401);
  assert.deepEqual(await authorize(local(basic("bob", "secret")), req, AUTH),
    { ok: true, user: "bob", environ: { REMOTE_USER: "bob", AUTH_TYPE: "Basic" } });
  assert.deepEqual(await authorize({ remoteAddress: "10.1.2.3" }, req, AUTH), { ok: true, environ: {} });
  assert.deepEqual(await authorize({ remoteAddress: "::ffff:10.1.2.3" }, req, AUTH), { ok: true, environ: {} });
  assert.deepEqual(await authorize(local(), compileRequire(["ip 10.0.0.0/8"]), {}), { ok: false, status: 403 });
  assert.equal((await authorize({ remoteAddress: "::1" }, compileRequire(["ip 127.0.0.1 ::1"]), {})).ok, true);
});

test("RequireAll with a negative: denied before asking for a user (403, as Apache)", async () => {
  const req = compileRequire({ all: ["valid-user", "not ip 127.0.0.1"] });
  assert.deepEqual(await authorize(local(undefined), req, AUTH), { ok: false, status: 403 });
  assert.deepEqual(await authorize(local(basic("alice", "password")), req, AUTH), { ok: false, status: 403 });
  assert.equal((await authorize({ remoteAddress: "192.0.2.1", authorization: basic("alice", "password") }, req, AUTH)).ok, true);
});

test("RequireNone and nested sections", () => {
  const req = compileRequire({ all: ["all granted", { none: ["ip 127.0.0.1", "ip 192.0.2.0/24"] }] });
  assert.equal(evaluateRequire(req, { remoteAddress: "127.0.0.1" }), "denied");
  assert.equal(evaluateRequire(req, { remoteAddress: "192.0.2.9" }), "denied");
  assert.equal(evaluateRequire(req, { remoteAddress: "198.51.100.1" }), "granted");
  const any = compileRequire({ any: [{ all: ["valid-user", "ip 10.0.0.0/8"] }, "user root"] });
  assert.equal(evaluateRequire(any, { remoteAddress: "10.0.0.1" }), "denied-no-user");
  assert.equal(evaluateRequire(any, { remoteAddress: "10.0.0.1", user: "x" }), "granted");
  assert.equal(evaluateRequire(any, { remoteAddress: "11.0.0.1", user: "x" }), "denied");
  assert.equal(evaluateRequire(any, { remoteAddress: "11.0.0.1", user: "root" }), "granted");
  assert.equal(evaluateRequire(compileRequire(["method GET POST"]), { remoteAddress: "1.1.1.1", method: "HEAD" }), "granted");
  assert.equal(evaluateRequire(compileRequire(["env LETMEIN"]), { remoteAddress: "1.1.1.1", env: { LETMEIN: "1" } }), "granted");
  assert.equal(evaluateRequire(compileRequire(["local"]), { remoteAddress: "127.0.0.5" }), "granted");
});

test("configuration errors Apache refuses at startup", () => {
  const bad = [
    ["not ip 10.0.0.0/8"],
    { any: ["valid-user", "not user bob"] },
    { all: ["not ip 10.0.0.0/8"] },
    { all: [{ none: ["ip 10.0.0.0/8"] }] },
    ["frobnicate x"],
    ["all maybe"],
    ["ip 10.0.0.999"],
    ["ip 10.0.0.0/33"],
    ["user"],
  ];
  for (const b of bad) assert.throws(() => compileRequire(b), (e) => e.name === "NodewsgiError" && /^CONFIG_REQUIRE/.test(e.code), JSON.stringify(b));
  assert.doesNotThrow(() => compileRequire({ all: ["valid-user", "not ip 10.0.0.0/8"] }));
});

test("ip rules: CIDR, netmask, partial, IPv6", () => {
  const m = (rule, addr) => ipMatches(parseIpRule(rule), addr);
  assert.ok(m("10.1", "10.1.200.3")); assert.ok(!m("10.1", "10.2.0.1"));
  assert.ok(m("10.0.0.0/255.0.0.0", "10.9.9.9"));
  assert.ok(m("2001:db8::/32", "2001:db8:ffff::1")); assert.ok(!m("2001:db8::/32", "2001:db9::1"));
  assert.ok(!m("10.0.0.0/8", "not-an-ip"));
});

test("htpasswd cache re-reads a changed file", async () => {
  const f = path.join(dir, "changing");
  const cache = new HtpasswdCache();
  fs.writeFileSync(f, "u1:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
  assert.ok(await cache.lookup(f, "u1"));
  assert.equal(await cache.lookup(f, "u2"), undefined);
  fs.writeFileSync(f, "u2:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nextra:x\n");
  assert.equal(await cache.lookup(f, "u1"), undefined);
  assert.ok(await cache.lookup(f, "u2"));
  fs.unlinkSync(f);
  await assert.rejects(cache.lookup(f, "u2"), (e) => e.code === "AUTH_USERFILE");
});

test("Require host: whole labels of the client's double-reverse name; no name is a denial", () => {
  const req = compileRequire(["host example.org .example.net"]);
  assert.equal(req.needsHostName, true);
  assert.equal(compileRequire(["ip 10.0.0.1"]).needsHostName, false);
  const at = (hostName) => evaluateRequire(req, { remoteAddress: "192.0.2.1", hostName });
  assert.equal(at("www.Example.org"), "granted");
  assert.equal(at("a.example.net"), "granted");
  assert.equal(at("badexample.org"), "denied");
  assert.equal(at(null), "denied");
  assert.equal(at(undefined), "denied");
});

test("a requirement that waits for a hook provider evaluates every other line once (no repeated lookups or log lines)", async () => {
  const { compileRequire: compile, evaluateRequireAsync, ProviderPending } = require("../dist/auth");
  const req = compile({ any: ["env NOPE", "expr %{REMOTE_ADDR} == '10.0.0.1'", "wsgi-group admins"] });
  let exprCalls = 0;
  let asked = 0;
  let answer;
  const r = {
    remoteAddress: "127.0.0.1",
    user: "alice",
    expr: () => (exprCalls++, false),
    external: () => {
      asked++;
      if (answer !== undefined) return answer;
      throw new ProviderPending(new Promise((resolve) => setImmediate(() => resolve((answer = "granted")))));
    },
  };
  assert.equal(await evaluateRequireAsync(req, r), "granted");
  assert.equal(exprCalls, 1, "the expression line ran once");
  assert.equal(asked, 2, "the waiting provider is asked again for its answer");
});
