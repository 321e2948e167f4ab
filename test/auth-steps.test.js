"use strict";
// The access-control steps (src/auth/access-steps.ts) run by both drivers: authorize() for a
// request (awaited I/O) and lookupAccessStatus() for a RewriteCond -U/-F lookup (synchronous
// I/O). The same credentials must give the same status and the same log lines, in the same
// order, either way; what a lookup does differently (no AH01630 for its refusal without a user,
// no hook scripts) is asserted as such.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { authorize, compileRequire, md5Crypt } = require("../dist/auth");
const { lookupAccessStatus } = require("../dist/auth/lookup-auth");
const { driveAsync, driveSync } = require("../dist/auth/steps");
const digest = require("../dist/auth/digest");
const D = require("./helpers/digest");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-auth-steps-"));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const SHA = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="; // "password"
const bcrypt = require("bcryptjs").hashSync("password", 4);
const apr1 = md5Crypt(Buffer.from("password"), "$apr1$", "abcdefgh");
const userFile = path.join(dir, "htpasswd");
fs.writeFileSync(userFile, [`alice:${SHA}`, `bob:${SHA}`, `bea:${bcrypt}`, `april:${apr1}`, "sha6:$6$salt$abc", ""].join("\n"));
const groupFile = path.join(dir, "groups");
fs.writeFileSync(groupFile, "staff: bob bea\n");
const REALM = "steps realm";
const digestFile = path.join(dir, "htdigest");
fs.writeFileSync(digestFile, D.htdigestLine("alice", REALM, "secret") + "\n");
const unreadableGroups = path.join(dir, "no-such-groups");

const basic = (u, p) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const BASIC = { type: "Basic", name: "R", userFile };
const valid = compileRequire(["valid-user"]);

function memLog() {
  const lines = [];
  return { lines, log: (level, module, msg) => lines.push(`[${module}:${level}] ${msg}`), close() {} };
}

/** One access check through both drivers: status, log lines, Authentication-Info. */
async function both(req, requirement, auth, opts = {}) {
  const rlog = memLog();
  const r = await authorize({ remoteAddress: "127.0.0.1", method: "GET", ...req }, requirement, auth, { log: rlog, ...opts });
  const llog = memLog();
  let info;
  const status = lookupAccessStatus({ remoteAddress: "127.0.0.1", method: "GET", ...req }, requirement, auth, {
    log: llog, ...(opts.digestState ? { digestState: opts.digestState } : {}), onAuthenticationInfo: (v) => (info = v),
  });
  return {
    request: { status: r.ok ? 200 : r.status, lines: rlog.lines, info: r.ok ? r.authenticationInfo : undefined },
    lookup: { status, lines: llog.lines, info },
  };
}

/** The lookup answers as the request does; its log is the request's without AH01630. */
function assertSame({ request, lookup }, expectStatus, expectLines) {
  assert.equal(request.status, expectStatus);
  assert.deepEqual(request.lines, expectLines);
  assert.equal(lookup.status, request.status);
  assert.deepEqual(lookup.lines, request.lines.filter((l) => !l.includes("AH01630")));
  assert.equal(lookup.info, request.info);
}

const C = "[client 127.0.0.1] ";

test("Basic: the same credentials give the same status and log lines through a request and through a lookup", async () => {
  const cases = [
    [{ uri: "/p", authorization: basic("alice", "password") }, valid, BASIC, 200, []],
    [{ uri: "/p", authorization: basic("bea", "password") }, valid, BASIC, 200, []],
    [{ uri: "/p", authorization: basic("april", "password") }, valid, BASIC, 200, []],
    [{ uri: "/p", authorization: basic("alice", "nope") }, valid, BASIC, 401, [`[auth_basic:error] ${C}AH01617: user alice: authentication failure for "/p": Password Mismatch`]],
    [{ uri: "/p", authorization: basic("bea", "nope") }, valid, BASIC, 401, [`[auth_basic:error] ${C}AH01617: user bea: authentication failure for "/p": Password Mismatch`]],
    [{ uri: "/p", authorization: basic("sha6", "x") }, valid, BASIC, 401, [`[auth_basic:error] ${C}AH01617: user sha6: authentication failure for "/p": crypt(3) SHA-256/512 ($5$/$6$) hashes are not supported: use htpasswd -B or -m`]],
    [{ uri: "/p", authorization: basic("carol", "password") }, valid, BASIC, 401, [`[auth_basic:error] ${C}AH01618: user carol not found: /p`]],
    [{ uri: "/p" }, valid, BASIC, 401, []],
    [{ uri: "/p", authorization: "Bearer x" }, valid, BASIC, 401, [`[auth_basic:error] ${C}AH01614: client used wrong authentication scheme: /p`]],
    [{ uri: "/p", authorization: basic("alice", "password") }, valid, { type: "Basic", userFile }, 500, [`[auth_basic:error] ${C}AH01615: need AuthName: /p`]],
    [{ uri: "/p", authorization: basic("alice", "password") }, valid, { type: "Basic", name: "R" }, 500, [`[authn_file:error] ${C}AH01619: AuthUserFile not specified in the configuration`]],
    [{ uri: "/p", authorization: basic("alice", "password") }, valid, { ...BASIC, userFile: path.join(dir, "missing") }, 500, [`[authn_file:error] ${C}AH01620: Could not open password file: ${path.join(dir, "missing")}`]],
    // Providers other than wsgi read AuthUserFile; an unknown user goes on to the next.
    [{ uri: "/p", authorization: basic("carol", "password") }, valid, { ...BASIC, providers: ["file", "file"] }, 401, [`[auth_basic:error] ${C}AH01618: user carol not found: /p`]],
    [{ uri: "/p", authorization: basic("alice", "password") }, compileRequire(["user bob"]), BASIC, 401, [`[authz_core:error] ${C}AH01631: user alice: authorization failure for "/p": `]],
    [{ uri: "/p", authorization: basic("bob", "password") }, compileRequire(["group staff"]), { ...BASIC, groupFile }, 200, []],
    [{ uri: "/p", authorization: basic("bea", "password") }, compileRequire(["group staff"]), { ...BASIC, groupFile }, 200, []],
    [{ uri: "/p", authorization: basic("alice", "password") }, compileRequire(["group staff"]), { ...BASIC, groupFile }, 401, [
      `[authz_groupfile:info] ${C}AH01666: Authorization of user alice to access /p failed, reason: user doesn't appear in group file (${groupFile}).`,
      `[authz_core:error] ${C}AH01631: user alice: authorization failure for "/p": `,
    ]],
    [{ uri: "/p", authorization: basic("bob", "password") }, compileRequire(["group staff"]), { ...BASIC, groupFile: unreadableGroups }, 401, null],
    [{ uri: "/p", authorization: basic("alice", "password") }, compileRequire(["all denied"]), BASIC, 403, [`[authz_core:error] ${C}AH01630: client denied by server configuration: /p`]],
    [{ uri: "/p", authorization: basic("alice", "password") }, compileRequire(["all granted"]), BASIC, 200, []],
    [{ uri: "/p", authorization: basic("alice", "password") }, null, BASIC, 500, [`[authz_core:error] ${C}AH01627: AuthType configured with no corresponding authorization directives`]],
    [{ uri: "/p", authorization: basic("alice", "password") }, valid, {}, 500, [`[core:error] ${C}AH00027: No authentication done but request not allowed without authentication for /p. Authentication not configured?`]],
    [{ uri: "/p", authorization: basic("alice", "password") }, valid, { ...BASIC, type: "Kerberos" }, 500, [`[authn_core:error] ${C}AH01796: AuthType Kerberos configured without corresponding module`]],
    [{ uri: "/p" }, null, {}, 200, []],
  ];
  for (const [req, requirement, auth, status, lines] of cases) {
    const got = await both(req, requirement, auth);
    const expectLines = lines ?? got.request.lines;
    if (lines === null) assert.ok(got.request.lines.some((l) => l.includes("AH01631")), got.request.lines.join("\n"));
    assertSame(got, status, expectLines);
  }
});

test("Digest: the same answer gives the same status, log lines and Authentication-Info through a request and a lookup", async () => {
  const state = new digest.DigestState();
  const time = BigInt(Date.now()) * 1000n;
  const settings = { ...digest.defaultDigestSettings() };
  const auth = { type: "Digest", name: REALM, userFile: digestFile, digest: settings };
  const req = (authorization) => ({ uri: "/d", authorization, digest: { target: "/d", serverName: "example.test", serverPort: 80, defaultPort: 80, time } });
  const first = await authorize({ remoteAddress: "127.0.0.1", method: "GET", ...req(undefined) }, valid, auth, { digestState: state });
  const c = D.challengeOf(first.headers[0][1]);
  const answer = (opts) => D.authorization(c, "GET", "/d", { user: "alice", password: "secret", ...opts });
  const ok = await both(req(answer({})), valid, auth, { digestState: state });
  assertSame(ok, 200, []);
  assert.match(ok.lookup.info, /^rspauth="[0-9a-f]{32}", cnonce="0a4f113b", nc=00000001, qop=auth$/);
  assertSame(await both(req(answer({ password: "nope" })), valid, auth, { digestState: state }), 401, [`[auth_digest:error] ${C}AH01794: user alice: password mismatch: /d`]);
  assertSame(await both(req(answer({ user: "mallory" })), valid, auth, { digestState: state }), 401, [`[auth_digest:error] ${C}AH01790: user \`mallory' in realm \`${REALM}' not found: /d`]);
  assertSame(await both(req(answer({ uri: "/e" })), valid, auth, { digestState: state }), 400, [`[auth_digest:error] ${C}AH01786: uri mismatch - </e> does not match request-uri </d>`]);
  assertSame(await both(req(answer({})), compileRequire(["user bob"]), auth, { digestState: state }), 401, [`[authz_core:error] ${C}AH01631: user alice: authorization failure for "/d": `]);
  assertSame(await both(req(answer({})), valid, { ...auth, userFile: undefined }, { digestState: state }), 500, [`[authn_file:error] ${C}AH01621: AuthUserFile not specified in the configuration`]);
  assertSame(await both(req(answer({})), valid, { ...auth, userFile: path.join(dir, "missing") }, { digestState: state }), 500, [`[authn_file:error] (2)No such file or directory: ${C}AH01622: Could not open password file: ${path.join(dir, "missing")}`]);
});

test("Digest with AuthDigestNcCheck: a nonce-count is counted the same way by both drivers (a replay is refused)", async () => {
  const settings = { ...digest.defaultDigestSettings(), ncCheck: true };
  const auth = { type: "Digest", name: REALM, userFile: digestFile, digest: settings };
  const time = BigInt(Date.now()) * 1000n;
  const run = async (drive) => {
    const state = new digest.DigestState();
    const log = memLog();
    const req = (authorization) => ({ remoteAddress: "127.0.0.1", method: "GET", uri: "/d", authorization, digest: { target: "/d", serverName: "example.test", serverPort: 80, defaultPort: 80, time } });
    const c = D.challengeOf((await authorize(req(undefined), valid, auth, { digestState: state })).headers[0][1]);
    const a = (nc) => D.authorization(c, "GET", "/d", { user: "alice", password: "secret", nc });
    return { statuses: [await drive(req(a(1)), state, log), await drive(req(a(1)), state, log), await drive(req(a(2)), state, log)], lines: log.lines };
  };
  const viaRequest = await run(async (r, digestState, log) => {
    const res = await authorize(r, valid, auth, { digestState, log });
    return res.ok ? 200 : res.status;
  });
  const viaLookup = await run(async (r, digestState, log) => lookupAccessStatus(r, valid, auth, { digestState, log }));
  assert.deepEqual(viaRequest.statuses, [200, 401, 200]);
  assert.match(viaRequest.lines[0], /AH01774: Warning, possible replay attack: nonce-count check failed: 1 is not above 1 for nonce /);
  // Each run has its own secret, so its own nonces.
  const lines = (r) => r.lines.map((l) => l.replace(/for nonce \S+/, "for nonce N"));
  assert.deepEqual(viaLookup.statuses, viaRequest.statuses);
  assert.deepEqual(lines(viaLookup), lines(viaRequest));
});

test("lookups run no hook scripts: the wsgi providers and Require wsgi-group are refused there with their lines (a request asks the hooks)", async () => {
  const hooks = {
    wsgiCheckPassword: async (user) => (user === "hook" ? { status: "granted" } : { status: "not-found" }),
    wsgiRealmHash: async () => ({ status: "found", hash: D.ha1("alice", REALM, "secret") }),
  };
  // AuthBasicProvider wsgi anywhere in the list: refused before any provider runs.
  for (const providers of [["wsgi"], ["file", "wsgi"]]) {
    const auth = { ...BASIC, providers };
    const r = await authorize({ remoteAddress: "127.0.0.1", uri: "/w", authorization: basic("hook", "x") }, valid, auth, hooks);
    assert.equal(r.ok, true);
    const log = memLog();
    assert.equal(lookupAccessStatus({ remoteAddress: "127.0.0.1", uri: "/w", authorization: basic("alice", "password") }, valid, auth, { log }), 500);
    assert.deepEqual(log.lines, [`[wsgi:error] ${C}AuthBasicProvider wsgi cannot be used in a RewriteCond -U/-F or ap_expr -U/-A/-F lookup of /w: hook scripts do not run there`]);
  }
  // Without credentials nothing is asked: 401, as for a request.
  assert.equal(lookupAccessStatus({ remoteAddress: "127.0.0.1", uri: "/w" }, valid, { ...BASIC, providers: ["wsgi"] }), 401);

  // AuthDigestProvider file wsgi: refused in its turn, so a user the file knows is still checked.
  const state = new digest.DigestState();
  const time = BigInt(Date.now()) * 1000n;
  const auth = { type: "Digest", name: REALM, userFile: digestFile, digest: { ...digest.defaultDigestSettings(), providers: ["file", "wsgi"] } };
  const req = (authorization) => ({ remoteAddress: "127.0.0.1", method: "GET", uri: "/d", authorization, digest: { target: "/d", serverName: "example.test", serverPort: 80, defaultPort: 80, time } });
  const c = D.challengeOf((await authorize(req(undefined), valid, auth, { digestState: state })).headers[0][1]);
  const log = memLog();
  assert.equal(lookupAccessStatus(req(D.authorization(c, "GET", "/d", { user: "alice", password: "secret" })), valid, auth, { log, digestState: state }), 200);
  assert.deepEqual(log.lines, []);
  assert.equal(lookupAccessStatus(req(D.authorization(c, "GET", "/d", { user: "zed", password: "secret" })), valid, auth, { log, digestState: state }), 500);
  assert.deepEqual(log.lines, [`[wsgi:error] ${C}the lookups of RewriteCond -U/-F do not run WSGIAuthUserScript's get_realm_hash`]);
  // A request asks the hook for the user the file does not know.
  const viaHook = await authorize(req(D.authorization(c, "GET", "/d", { user: "zed", password: "x", ha1: D.ha1("alice", REALM, "secret") })), valid, auth, { digestState: state, ...hooks });
  assert.equal(viaHook.ok, true);

  // Require wsgi-group: the request's provider answers; the lookup's refuses, logged.
  const group = compileRequire(["wsgi-group admins"]);
  const external = (name, args, r) => (r.user === undefined ? "denied-no-user" : r.user === "alice" ? "granted" : "denied");
  const ok = await authorize({ remoteAddress: "127.0.0.1", uri: "/g", authorization: basic("alice", "password") }, group, BASIC, { external });
  assert.equal(ok.ok, true);
  const glog = memLog();
  assert.equal(lookupAccessStatus({ remoteAddress: "127.0.0.1", uri: "/g", authorization: basic("alice", "password") }, group, BASIC, { log: glog }), 500);
  assert.deepEqual(glog.lines, [`[wsgi:error] ${C}Require wsgi-group cannot be evaluated in a RewriteCond -U/-F or ap_expr -U/-A/-F lookup of /g: hook scripts do not run there`]);
});

test("the drivers: an answer that throws is thrown at the step's yield; a caught error lets the steps go on", async () => {
  function* steps() {
    let a;
    try {
      a = yield "fail";
    } catch (err) {
      a = `caught ${err.message}`;
    }
    const b = yield "echo";
    return `${a}, ${b}`;
  }
  const answer = (s) => {
    if (s === "fail") throw new Error("boom");
    return "echoed";
  };
  assert.equal(driveSync(steps(), answer), "caught boom, echoed");
  assert.equal(await driveAsync(steps(), answer), "caught boom, echoed");
  assert.equal(await driveAsync(steps(), (s) => (s === "fail" ? Promise.reject(new Error("late")) : Promise.resolve("later"))), "caught late, later");
  // Uncaught: the error comes out of the driver (a rejection from driveAsync).
  function* uncaught() {
    yield "fail";
    return "never";
  }
  assert.throws(() => driveSync(uncaught(), answer), /boom/);
  await assert.rejects(driveAsync(uncaught(), answer), /boom/);
});
