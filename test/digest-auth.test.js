"use strict";
// AuthType Digest (mod_auth_digest as httpd 2.4.71 does it) and mod_wsgi's get_realm_hash.
// The recorded scenario (digest-auth) can only carry forged nonces; the round trips asserted here
// were checked against httpd 2.4.71 + mod_wsgi 4.9.4 by hand with
// test/fixtures/conformance/digest-probe.js (same site on both servers, transcripts diffed):
// statuses, challenges, Authentication-Info, the error log lines and the access log's %u agreed.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { authorize, compileRequire } = require("../dist/auth");
const digest = require("../dist/auth/digest");
const { loadConfig, parseConfigText, ConfigErrors } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { raw, statusOf } = require("./helpers/http");
const D = require("./helpers/digest");

function memLog() {
  const lines = [];
  return { lines, log: (level, module, msg) => lines.push(`[${module}:${level}] ${msg}`), close() {} };
}

const REALM = "private area";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-digest-"));
const userFile = path.join(dir, "htdigest");
fs.writeFileSync(userFile, [
  "# comment",
  D.htdigestLine("alice", REALM, "secret"),
  "  " + D.htdigestLine("bob", REALM, "hunter2") + "  ",
  D.htdigestLine("alice", "other realm", "elsewhere"),
  `carol:${REALM}:${D.ha1("carol", REALM, "secret").toUpperCase()}`,
  D.htdigestLine("dave", REALM, "pw") + ":extra:fields",
  "",
].join("\n"), "latin1");

const ALICE = { user: "alice", password: "secret" };
const valid = compileRequire(["valid-user"]);

/** authorize() for a Digest request to `target`, with a shared state, log and clock. */
function harness(settings = {}, auth = {}) {
  const state = new digest.DigestState();
  const log = memLog();
  let now = BigInt(Date.now()) * 1000n;
  const run = (target, authorization, { method = "GET", requirement = valid, env } = {}) =>
    authorize(
      {
        remoteAddress: "127.0.0.1", method, uri: target.split("?")[0], authorization, ...(env ? { env } : {}),
        digest: { target, serverName: "example.test", serverPort: 80, defaultPort: 80, time: now },
      },
      requirement,
      { type: "Digest", name: REALM, userFile, digest: { ...digest.defaultDigestSettings(), ...settings }, ...auth },
      { log, digestState: state },
    );
  return { state, log, run, now: () => now, advance: (seconds) => (now += BigInt(seconds) * 1_000_000n), lines: () => log.lines.join("\n") };
}

/** A challenge, then the answer to it: the two results. */
async function roundTrip(h, target, opts = {}, method = "GET") {
  const first = await h.run(target, undefined, { method });
  const c = D.challengeOf(first.headers[0][1]);
  const second = await h.run(target, D.authorization(c, method, target, { ...ALICE, ...opts }), { method });
  return { c, first, second };
}

describe("mod_auth_digest: the protocol", () => {
  it("challenge: realm, nonce (time + hash), algorithm=MD5, qop=auth; no opaque unless clients are tracked", async () => {
    const h = harness();
    const r = await h.run("/d/f.txt", undefined);
    assert.equal(r.status, 401);
    const [name, value] = r.headers[0];
    assert.equal(name, "WWW-Authenticate");
    assert.match(value, /^Digest realm="private area", nonce="[A-Za-z0-9+/]{11}=[0-9a-f]{40}", algorithm=MD5, qop="auth"$/);
    const c = D.challengeOf(value);
    assert.ok(D.nonceTime(c.nonce) > 0n);
    const nc = harness({ ncCheck: true });
    assert.match((await nc.run("/d/f.txt")).headers[0][1], /algorithm=MD5, opaque="1", qop="auth"$/);
    assert.match((await nc.run("/d/f.txt")).headers[0][1], /opaque="2"/);
    const dom = harness({ domains: ["/dom/", "http://example.test/x/", "/y"] });
    assert.match((await dom.run("/d/f.txt")).headers[0][1], /algorithm=MD5, domain="\/dom\/ http:\/\/example\.test\/x\/ \/y", qop="auth"$/);
  });

  it("a right answer: REMOTE_USER and AUTH_TYPE Digest, Authentication-Info with rspauth; the answer may be replayed without AuthDigestNcCheck", async () => {
    const h = harness();
    const { c, second } = await roundTrip(h, "/d/f.txt");
    assert.equal(second.ok, true);
    assert.deepEqual(second.environ, { REMOTE_USER: "alice", AUTH_TYPE: "Digest" });
    const rsp = D.rspauth({ ...ALICE, realm: REALM, nonce: c.nonce, uri: "/d/f.txt" });
    assert.equal(second.authenticationInfo, `rspauth="${rsp}", cnonce="0a4f113b", nc=00000001, qop=auth`);
    const again = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE));
    assert.equal(again.ok, true);
    // The cnonce is echoed with its quotes escaped; the qop as sent.
    const odd = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { ...ALICE, nc: 7, cnonce: 'xyz"q', qop: "AUTH" }));
    assert.match(odd.authenticationInfo, /, cnonce="xyz\\"q", nc=00000007, qop=AUTH$/);
    assert.equal(h.lines(), "");
  });

  it("refusals before the nonce is looked at, with httpd's log lines", async () => {
    const h = harness();
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    const ans = (opts, target = "/d/f.txt", method = "GET") => h.run(target, D.authorization(c, method, opts.uri ?? target, { ...ALICE, ...opts }), { method });
    const cases = [
      [() => h.run("/d/f.txt", "Basic YWxpY2U6c2VjcmV0"), 401, "[auth_digest:error] [client 127.0.0.1] AH01781: client used wrong authentication scheme `Basic': /d/f.txt"],
      [() => h.run("/d/f.txt", "Digest"), 401, "AH01782: missing user, realm, nonce, uri, digest, cnonce, or nonce_count in authorization header: /d/f.txt"],
      [() => ans({ nonce: "abc" }), 401, "AH01782"],
      [() => ans({ response: "abc" }), 401, "AH01782"],
      [() => ans({ omit: ["cnonce"] }), 401, "AH01782"],
      [() => ans({ uri: "/d/other.txt" }), 400, "AH01786: uri mismatch - </d/other.txt> does not match request-uri </d/f.txt>"],
      [() => ans({ uri: "http://example.test:8x/d/f.txt" }), 400, "AH01783: invalid uri <http://example.test:8x/d/f.txt> in Authorization header"],
      [() => ans({ uri: "http://example.test:81/d/f.txt" }), 400, "AH01786"],
      [() => ans({ uri: "a:b" }), 400, "AH01786"],
      [() => ans({ opaque: "zz" }), 401, "AH01787: received invalid opaque - got `zz'"],
      [() => ans({ realm: "Private Area" }), 401, "AH01788: realm mismatch - got `Private Area' but expected `private area'"],
      [() => ans({ algorithm: "MD5-sess" }), 401, "AH01789: unknown algorithm `MD5-sess' received: /d/f.txt"],
      [() => ans({ user: "mallory" }), 401, "AH01790: user `mallory' in realm `private area' not found: /d/f.txt"],
      [() => ans({ qop: null }), 401, "AH10560: invalid or missing qop value '(null)', RFC 2069 is no longer supported: /d/f.txt"],
      [() => ans({ qop: "auth-int" }), 401, "AH10560: invalid or missing qop value 'auth-int'"],
      [() => ans({ password: "nope" }), 401, "AH01794: user alice: password mismatch: /d/f.txt"],
      [() => ans({ user: "carol" }), 401, "AH01794: user carol: password mismatch"],
      [() => ans({ hashMethod: "GET" }, "/d/f.txt", "HEAD"), 401, "AH01794"],
      [() => ans({ extra: ', username="mallory"' }), 401, "AH01790: user `mallory'"],
    ];
    for (const [run, status, line] of cases) {
      const mark = h.log.lines.length;
      const r = await run();
      assert.equal(r.status, status, line);
      assert.ok(h.log.lines.slice(mark).some((l) => l.includes(line)), `${line}\n${h.log.lines.slice(mark).join("\n")}`);
      // Only a bad opaque gets a new client, and so a stale nonce.
      if (status === 401) assert.equal(/stale=true/.test(r.headers[0][1]), line.startsWith("AH01787"), line);
    }
    // Refused after the header was read: the request is the user's (r->user, the access log's %u).
    assert.equal((await ans({ password: "nope" })).user, "alice");
    assert.equal((await h.run("/d/f.txt", "Digest")).user, undefined);
  });

  it("accepted forms: absolute and escaped uris, md5 in any case, no algorithm, lower-case scheme, entries with spaces or more fields", async () => {
    const h = harness();
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    const ok = async (target, opts) => assert.equal((await h.run(target, D.authorization(c, "GET", opts.uri ?? target, { ...ALICE, ...opts }))).ok, true, JSON.stringify(opts));
    await ok("/d/f.txt", { uri: "http://EXAMPLE.test/d/f.txt" });
    await ok("/d/f.txt", { uri: "http://u:p@example.test:80/d/f.txt" });
    await ok("/d/f.txt", { uri: "/d/f%2etxt" });
    await ok("/d/f%2etxt", { uri: "/d/f.txt" });
    await ok("/d/f.txt?x=1", { uri: "/d/f.txt?x=%31" });
    await ok("/d/f.txt", { uri: "/d/f.txt#frag" });
    await ok("/d/f.txt", { algorithm: "md5" });
    await ok("/d/f.txt", { omit: ["algorithm"] });
    await ok("/d/f.txt", { user: "bob", password: "hunter2" });
    await ok("/d/f.txt", { user: "dave", password: "pw" });
    const lower = D.authorization(c, "GET", "/d/f.txt", ALICE).replace(/^Digest/, "dIGEST").replace(/username="alice"/, "username = alice");
    assert.equal((await h.run("/d/f.txt", lower)).ok, true);
    // The query is part of the uri, unless AuthDigestEnableQueryStringHack is set.
    assert.equal((await h.run("/d/f.txt?x=1", D.authorization(c, "GET", "/d/f.txt", ALICE))).status, 400);
    const hack = await h.run("/d/f.txt?x=1", D.authorization(c, "GET", "/d/f.txt", ALICE), { env: new Map([["AuthDigestEnableQueryStringHack", "1"]]) });
    assert.equal(hack.ok, true);
    assert.match(h.lines(), /\[auth_digest:info\] .*AH01784: applying AuthDigestEnableQueryStringHack to uri <\/d\/f\.txt\?x=1>/);
  });

  it("nonces: a forged one is stale (after the response is checked); an old one is stale; the clock going back is refused", async () => {
    const h = harness({ nonceLifetime: 1 });
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    let r = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { ...ALICE, nonce: D.forgedNonce() }));
    assert.equal(r.status, 401);
    assert.match(r.headers[0][1], /, stale=true, qop="auth"$/);
    assert.match(h.lines(), /AH01776: invalid nonce [A-Za-z0-9+/]{11}=0{40} received - hash is not [0-9a-f]{40}/);
    // A wrong password with a forged nonce is a password mismatch: the nonce is checked last.
    r = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { user: "alice", password: "x", nonce: D.forgedNonce() }));
    assert.doesNotMatch(r.headers[0][1], /stale/);
    assert.match(h.lines(), /AH01794/);
    assert.equal((await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE))).ok, true);
    h.advance(2);
    r = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE));
    assert.match(r.headers[0][1], /stale=true/);
    assert.match(h.lines(), /\[auth_digest:info\] .*AH01778: user alice: nonce expired \(2\.00 seconds old - max lifetime 1\.00\) - sending new nonce/);
    // A nonce from the future.
    const h2 = harness({ nonceLifetime: 300 });
    const c2 = D.challengeOf((await h2.run("/d/f.txt")).headers[0][1]);
    h2.advance(-10);
    r = await h2.run("/d/f.txt", D.authorization(c2, "GET", "/d/f.txt", ALICE));
    assert.match(r.headers[0][1], /stale=true/);
    assert.match(h2.lines(), /AH01777: invalid nonce \S+ received - user attempted time travel/);
    // Negative lifetimes never expire, and send no nextnonce.
    const h3 = harness({ nonceLifetime: -1 });
    const c3 = D.challengeOf((await h3.run("/d/f.txt")).headers[0][1]);
    h3.advance(100000);
    r = await h3.run("/d/f.txt", D.authorization(c3, "GET", "/d/f.txt", ALICE));
    assert.equal(r.ok, true);
    assert.doesNotMatch(r.authenticationInfo, /nextnonce/);
  });

  it("nextnonce: within 30 seconds of the end of a nonce's life", async () => {
    const h = harness({ nonceLifetime: 60 });
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    assert.doesNotMatch((await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE))).authenticationInfo, /nextnonce/);
    h.advance(31);
    const r = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE));
    assert.match(r.authenticationInfo, /^rspauth="[0-9a-f]{32}", nextnonce="[A-Za-z0-9+/]{11}=[0-9a-f]{40}", cnonce=/);
    const next = D.parseParams(r.authenticationInfo).nextnonce;
    assert.equal((await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { ...ALICE, nonce: next }))).ok, true);
  });

  it("AuthDigestNcCheck: the count must go up for a nonce (AH01774); a bad count or unknown client gets a new challenge", async () => {
    const h = harness({ ncCheck: true });
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    assert.equal(c.opaque, "1");
    const ans = (opts) => h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { ...ALICE, ...opts }));
    assert.equal((await ans({ nc: 1 })).ok, true);
    let r = await ans({ nc: 1 });
    assert.equal(r.status, 401);
    assert.match(r.headers[0][1], /opaque="1", qop="auth"$/);
    assert.match(h.lines(), /\[auth_digest:error\] .*AH01774: Warning, possible replay attack: nonce-count check failed: 1 is not above 1 for nonce /);
    assert.equal((await ans({ nc: 3 })).ok, true);
    assert.equal((await ans({ nc: 2 })).status, 401);
    assert.match(h.lines(), /2 is not above 3/);
    r = await ans({ nc: "zz" });
    assert.equal(r.status, 401);
    assert.match(h.lines(), /AH01773: invalid nc zz received - not a number/);
    // A failed answer does not count: 4 is still good after a wrong password with 9.
    await ans({ nc: 9, password: "x" });
    assert.equal((await ans({ nc: 4 })).ok, true);
    // Without its opaque, the nonce's hash does not match: a new client, stale.
    r = await ans({ nc: 5, opaque: null });
    assert.match(r.headers[0][1], /opaque="2", stale=true/);
    // An opaque that names no client (with a nonce made for it): stale, and a new client.
    r = await h.run("/d/f.txt", D.authorization({ ...c, opaque: "99", nonce: h.state.nonce(h.now(), "99", REALM, false) }, "GET", "/d/f.txt", ALICE));
    assert.equal(r.status, 401);
    assert.match(r.headers[0][1], /opaque="3", stale=true/);
    assert.match(h.lines(), /\[auth_digest:info\] .*AH10618: client 153 is no longer known - sending new nonce/);
  });

  it("one-time nonces (AuthDigestNonceLifetime 0): a second use is stale (AH01779); nextnonce is the next one", async () => {
    const h = harness({ nonceLifetime: 0 });
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    assert.equal(c.opaque, "1");
    const first = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE));
    assert.equal(first.ok, true);
    const next = D.parseParams(first.authenticationInfo).nextnonce;
    assert.match(next, D.NONCE_SHAPE);
    const again = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { ...ALICE, nc: 2 }));
    assert.match(again.headers[0][1], /opaque="1", stale=true/);
    assert.match(h.lines(), /\[auth_digest:info\] .*AH01779: user alice: one-time-nonce \S+ already used - sending new nonce/);
    assert.equal((await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { ...ALICE, nonce: next }))).ok, true);
  });

  it("the client table is as big as httpd's segment: 12 clients by default, then a collection (AH01766)", async () => {
    const h = harness({ ncCheck: true });
    const cs = [];
    for (let i = 0; i < 13; i++) cs.push(D.challengeOf((await h.run("/d/f.txt")).headers[0][1]));
    assert.match(h.lines(), /\[auth_digest:info\] AH01766: gc'd 12 client entries\. Total new clients: 12; Total removed clients: 12; Total renewed clients: 0/);
    assert.equal((await h.run("/d/f.txt", D.authorization(cs[12], "GET", "/d/f.txt", ALICE))).ok, true);
    const r = await h.run("/d/f.txt", D.authorization(cs[0], "GET", "/d/f.txt", ALICE));
    assert.match(r.headers[0][1], /opaque="e", stale=true/);
    // AuthDigestShmemSize sets the buckets too: 1000 bytes give 14 clients in 5 buckets.
    const sized = new digest.DigestState(1000);
    const log = () => {};
    for (let i = 0; i < 14; i++) assert.notEqual(sized.newClient(log), 0);
    const lines = [];
    sized.newClient((level, module, msg) => lines.push(msg));
    assert.match(lines.join("\n"), /gc'd 5 client entries/);
  });

  it("authorization after authentication: a refused user gets a fresh challenge (AH01631); Require all denied is 403 without asking", async () => {
    const h = harness();
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    const r = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE), { requirement: compileRequire(["user bob"]) });
    assert.equal(r.status, 401);
    assert.doesNotMatch(r.headers[0][1], /stale/);
    assert.equal(r.user, "alice");
    assert.match(h.lines(), /AH01631: user alice: authorization failure for "\/d\/f\.txt": /);
    assert.equal((await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE), { requirement: compileRequire(["all denied"]) })).status, 403);
  });

  it("configuration 500s: no AuthName (AH01780), no AuthUserFile (AH01621), an unreadable one (AH01622), the wsgi provider without a script", async () => {
    let h = harness({}, { name: undefined });
    let r = await h.run("/d/f.txt");
    assert.equal(r.status, 500);
    assert.match(h.lines(), /\[auth_digest:error\] .*AH01780: need AuthName: \/d\/f\.txt/);
    h = harness({}, { userFile: undefined });
    const c = D.challengeOf((await h.run("/d/f.txt")).headers[0][1]);
    assert.equal((await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE))).status, 500);
    assert.match(h.lines(), /\[authn_file:error\] .*AH01621: AuthUserFile not specified in the configuration/);
    h = harness({}, { userFile: path.join(dir, "nowhere") });
    assert.equal((await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE))).status, 500);
    assert.match(h.lines(), /\[authn_file:error\] \(2\)No such file or directory: \[client 127\.0\.0\.1\] AH01622: Could not open password file: .*nowhere/);
    h = harness({ providers: ["wsgi"] });
    r = await h.run("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE));
    assert.equal(r.status, 500);
    assert.match(h.lines(), /\[wsgi:error\] mod_wsgi \(pid=\d+\): Location of WSGI user authentication script not provided\./);
  });
});

describe("mod_auth_digest: parsing as httpd does", () => {
  it("the Authorization header: quoted values with escapes, tokens, unknown keys, the last of a repeated key", () => {
    const h = digest.parseDigestHeader('Digest username="a\\"b", realm=r, nonce="' + "A".repeat(11) + "=" + "0".repeat(40) + '", uri="/x", response="' + "f".repeat(32) + '", foo=bar, qop=auth, nc=1, cnonce=c, opaque="1f", realm="r2"');
    assert.equal(h.status, "valid");
    assert.equal(h.username, 'a"b');
    assert.equal(h.realm, "r2");
    assert.equal(h.opaqueNum, 31);
    assert.equal(digest.parseDigestHeader(undefined).status, "none");
    assert.equal(digest.parseDigestHeader("Basic abc").status, "not-digest");
    assert.equal(digest.parseDigestHeader("Digest username=a").status, "invalid");
    for (const [o, n] of [["0x10", 16], ["-1", 0], ["", 0], ["1g", 0], ["100000000", 0], ["ffffffff", 0xffffffff]]) {
      const v = digest.parseDigestHeader(`Digest username=a, realm=r, nonce=${"A".repeat(11)}=${"0".repeat(40)}, uri=/x, response=${"f".repeat(32)}, opaque="${o}"`);
      assert.equal(v.opaqueNum, n, o);
    }
  });

  it("apr_uri_parse as apr 1.7 (a:b is a scheme and a path; a bad port fails) and ap_unescape_url", () => {
    assert.deepEqual(digest.aprUriParse("/p?q#f"), { scheme: null, hostinfo: null, hostname: null, portStr: null, port: 0, path: "/p", query: "q" });
    assert.equal(digest.aprUriParse("a:b").path, "b");
    assert.equal(digest.aprUriParse("http://h:8x/"), null);
    assert.equal(digest.aprUriParse("http://h:/p").port, 80);
    assert.equal(digest.aprUriParse("http://h:65616/p").port, 80);
    assert.equal(digest.aprUriParse("http://[::1]:81/p").hostname, "::1");
    assert.equal(digest.aprUriParse("//h/p").hostname, "h");
    assert.equal(digest.unescapeUrl("/a%2fb%zz%00c"), "/a/b%zz");
  });

  it("htdigest lines: the first `user:realm:` entry; colons run together as ap_getword skips them; the file read again when it changes", async () => {
    const { HtpasswdCache } = require("../dist/auth/htpasswd");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-htdigest-"));
    const file = path.join(dir, "htdigest");
    try {
      fs.writeFileSync(file, "a:r:h1\na:r:h2\nb::r::h:x\n  # comment\nc:r\n");
      const cache = new HtpasswdCache();
      assert.equal(await cache.realmHash(file, "a", "r"), "h1");
      assert.equal(await cache.realmHash(file, "b", "r"), "h");
      assert.equal(await cache.realmHash(file, "c", "r"), "");
      assert.equal(await cache.realmHash(file, "a", "R"), undefined);
      fs.writeFileSync(file, "a:r:new\n");
      assert.equal(await cache.realmHash(file, "a", "r"), "new");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("mod_auth_digest: configuration", () => {
  const base = (more) => `ServerName localhost\nListen 127.0.0.1:0\n<Directory /tmp>\n${more}\n</Directory>\n`;
  const errorOf = (text) => {
    try {
      parseConfigText(text, "/x/site.conf");
    } catch (e) {
      if (e instanceof ConfigErrors) return e.errors.map((x) => x.message).join("\n");
      throw e;
    }
    return null;
  };
  it("values httpd 2.4.71 refuses are configuration errors with its messages", () => {
    for (const [line, message] of [
      ["AuthDigestQop none", "AuthDigestQop is deprecated: only 'auth' is supported"],
      ["AuthDigestQop auth auth-int", "AuthDigestQop is deprecated: only 'auth' is supported"],
      ["AuthDigestAlgorithm MD5-sess", "Unsupported algorithm in AuthDigestAlgorithm: MD5-sess"],
      ["AuthDigestNonceLifetime 10x", "Invalid time in AuthDigestNonceLifetime: 10x"],
      ["AuthDigestProvider FILE", "Unknown Authn provider: FILE"],
      ["AuthDigestProvider anon", "Unknown Authn provider: anon"],
      ["AuthDigestNcCheck maybe", "AuthDigestNcCheck"],
      ["AuthDigestNonceFormat x", "AuthDigestNonceFormat"],
      ["AuthType Form", "AuthType Form is not supported"],
    ]) {
      const m = errorOf(base(line));
      assert.ok(m && m.includes(message), `${line}: ${m}`);
      assert.match(m, /site\.conf:4/);
    }
    assert.match(errorOf("AuthDigestShmemSize 71\n"), /size in AuthDigestShmemSize too small: 71 < 88/);
    assert.match(errorOf("AuthDigestShmemSize 99999999999M\n"), /size in AuthDigestShmemSize too large for nodewsgi: 99999999999M \(at most 64M\)/);
    assert.match(errorOf("AuthDigestShmemSize 65M\n"), /too large for nodewsgi/);
    assert.match(errorOf("AuthDigestShmemSize 5x\n"), /Invalid size in AuthDigestShmemSize: 5x/);
    assert.match(errorOf(base("AuthDigestShmemSize 1k")), /AuthDigestShmemSize: cannot occur within <Directory> section/);
    for (const ok of ["AuthDigestQop AUTH", "AuthDigestAlgorithm md5", "AuthDigestNonceLifetime -1", "AuthType digest", "AuthDigestProvider file wsgi"]) assert.equal(errorOf(base(ok)), null, ok);
    assert.equal(parseConfigText("AuthDigestShmemSize 2M\n", "/x/site.conf").authDigestShmemSize.value, 2 * 1048576);
  });

  it("a section's AuthDigest* settings replace the enclosing section's wholesale (httpd does not merge them)", () => {
    const c = parseConfigText(`<Directory /a>\nAuthDigestProvider wsgi\nAuthDigestNcCheck On\n</Directory>\n<Directory /a/b>\nAuthDigestDomain /b/\nAuthDigestDomain /c\n</Directory>\n`, "/x/site.conf");
    const [a, b] = c.main.sections.map((s) => s.settings.authDigest.value);
    assert.deepEqual(a, { nonceLifetime: 300, ncCheck: true, providers: ["wsgi"] });
    assert.deepEqual(b, { nonceLifetime: 300, ncCheck: false, domains: ["/b/", "/c"] });
  });
});

for (const frontEnd of ["node", "uws"]) {
  describe(`Digest through a server (${frontEnd} front end)`, () => {
    let server;
    let port;
    let work;
    const log = memLog();
    before(async () => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-digest-site-"));
      for (const d of ["d", "w", "nc", "idx"]) {
        fs.mkdirSync(path.join(work, d));
        fs.writeFileSync(path.join(work, d, "f.txt"), `${d}\n`);
      }
      fs.writeFileSync(path.join(work, "idx", "index.html"), "index\n");
      fs.copyFileSync(userFile, path.join(work, "htdigest"));
      fs.copyFileSync(path.join(__dirname, "fixtures", "conformance", "hooks", "digest.js"), path.join(work, "hook.js"));
      fs.writeFileSync(path.join(work, "app.js"), `exports.application = (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify({ user: environ.REMOTE_USER ?? null, type: environ.AUTH_TYPE ?? null, auth: environ.HTTP_AUTHORIZATION ?? null })];
};
`);
      const dig = (more) => `    AuthType Digest\n    AuthName "${REALM}"\n    AuthUserFile "${work}/htdigest"\n${more.map((l) => `    ${l}\n`).join("")}`;
      fs.writeFileSync(path.join(work, "site.conf"), `ServerName localhost
Listen 127.0.0.1:0
DocumentRoot "${work}"
<Directory "${work}">
    Require all granted
</Directory>
<Directory "${work}/d">
${dig(["Require valid-user"])}</Directory>
<Directory "${work}/idx">
${dig(["Require valid-user"])}</Directory>
<Directory "${work}/nc">
${dig(["AuthDigestNcCheck On", "Require valid-user"])}</Directory>
<Directory "${work}/w">
${dig(["AuthDigestProvider wsgi", `WSGIAuthUserScript "${work}/hook.js"`, "Require valid-user"])}</Directory>
WSGIScriptAlias /app "${work}/app.js"
<Location /app>
${dig(["AuthDigestProvider file wsgi", `WSGIAuthUserScript "${work}/hook.js"`, "Require valid-user"])}</Location>
`);
      server = await Server.start(loadConfig(path.join(work, "site.conf")), { engine: jsEngine, frontEnd, errorLog: log, accessLog: null, notice: () => {} });
      port = server.addresses[0].port;
    });
    after(() => server?.stop(1000));

    const get = (target, headers = {}, method = "GET") =>
      raw(port, `${method} ${target} HTTP/1.1\r\nHost: example.test\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}Connection: close\r\n\r\n`, { waitMs: 30_000 });
    const header = (r, name) => (new RegExp(`^${name}: (.*)$`, "mi").exec(r) ?? [])[1];
    const bodyOf = (r) => r.slice(r.indexOf("\r\n\r\n") + 4);
    const challenge = async (target) => D.challengeOf(header(await get(target), "WWW-Authenticate"));
    const since = (mark) => log.lines.slice(mark).join("\n");

    it("a static file: challenge, answer, Authentication-Info; a 404 after authentication drops it", async () => {
      const c = await challenge("/d/f.txt");
      const r = await get("/d/f.txt", { Authorization: D.authorization(c, "GET", "/d/f.txt", ALICE) });
      assert.equal(statusOf(r), 200);
      assert.equal(bodyOf(r), "d\n");
      assert.equal(header(r, "Authentication-Info"), `rspauth="${D.rspauth({ ...ALICE, realm: REALM, nonce: c.nonce, uri: "/d/f.txt" })}", cnonce="0a4f113b", nc=00000001, qop=auth`);
      const missing = await get("/d/none.txt", { Authorization: D.authorization(c, "GET", "/d/none.txt", ALICE) });
      assert.equal(statusOf(missing), 404);
      assert.equal(header(missing, "Authentication-Info"), undefined);
      const idx = await get("/idx/", { Authorization: D.authorization(c, "GET", "/idx/", ALICE) });
      assert.equal(statusOf(idx), 200);
      assert.equal(bodyOf(idx), "index\n");
      assert.match(header(idx, "Authentication-Info"), /^rspauth=/);
      const bad = await get("/d/f.txt", { Authorization: D.authorization(c, "GET", "/d/elsewhere", ALICE) });
      assert.equal(statusOf(bad), 400);
    });

    it("an application: REMOTE_USER, AUTH_TYPE Digest, no Authorization; file then wsgi providers; Authentication-Info on its response", async () => {
      const c = await challenge("/app/x?y=1");
      let r = await get("/app/x?y=1", { Authorization: D.authorization(c, "GET", "/app/x?y=1", { user: "bob", password: "hunter2" }) });
      assert.equal(statusOf(r), 200);
      assert.deepEqual(JSON.parse(bodyOf(r).replace(/^[0-9a-f]+\r\n/, "").replace(/\r\n0\r\n\r\n$/, "")), { user: "bob", type: "Digest", auth: null });
      assert.match(header(r, "Authentication-Info"), /^rspauth="[0-9a-f]{32}", cnonce="0a4f113b", nc=00000001, qop=auth$/);
      r = await get("/app/x", { Authorization: D.authorization(c, "GET", "/app/x", { user: "spy", password: "secret" }) });
      assert.equal(statusOf(r), 200);
      assert.match(bodyOf(r), /"user":"spy"/);
    });

    it("get_realm_hash: a string or bytes is the hash; null is an unknown user; anything else, a throw, a missing user are 500", async () => {
      const c = await challenge("/w/f.txt");
      const ans = (user, password) => get("/w/f.txt", { Authorization: D.authorization(c, "GET", "/w/f.txt", { user, password }) });
      assert.equal(statusOf(await ans("alice", "secret")), 200);
      assert.equal(statusOf(await ans("bytes", "secret")), 200);
      let mark = log.lines.length;
      assert.equal(statusOf(await ans("upper", "secret")), 401);
      assert.match(since(mark), /AH01794: user upper: password mismatch: \/w\/f\.txt/);
      assert.equal(statusOf(await ans("empty", "x")), 401);
      mark = log.lines.length;
      assert.equal(statusOf(await ans("nobody", "x")), 401);
      assert.match(since(mark), /AH01790: user `nobody' in realm `private area' not found: \/w\/f\.txt/);
      mark = log.lines.length;
      assert.equal(statusOf(await ans("one", "x")), 500);
      assert.match(since(mark), /TypeError: Digest auth provider must return null or string object/);
      mark = log.lines.length;
      assert.equal(statusOf(await ans("euro", "x")), 500);
      assert.match(since(mark), /TypeError: Digest auth provider must return null or string object, value containing non 'latin-1' characters found/);
      mark = log.lines.length;
      assert.equal(statusOf(await ans("boom", "x")), 500);
      assert.match(since(mark), /mod_wsgi \(pid=\d+\): Exception occurred processing WSGI script '.*hook\.js'\.[\s\S]*kaboom/);
      const where = await get("/w/f.txt", { Authorization: D.authorization(c, "GET", "/w/f.txt", { user: "where", ha1: D.ha1("/w/f.txt|", REALM, "x") }) });
      assert.equal(statusOf(where), 200);
    });

    it("a graceful reload keeps the secret and the clients: an answer to a nonce from before it is still good", async () => {
      const c = await challenge("/nc/f.txt");
      assert.equal(statusOf(await get("/nc/f.txt", { Authorization: D.authorization(c, "GET", "/nc/f.txt", ALICE) })), 200);
      await server.reload(loadConfig(path.join(work, "site.conf")), 1000);
      // The same nonce and opaque, the next count: the client is still known after the reload.
      const r = await get("/nc/f.txt", { Authorization: D.authorization(c, "GET", "/nc/f.txt", { ...ALICE, nc: 2 }) });
      assert.equal(statusOf(r), 200, r.split("\r\n")[0]);
    });

    it("AuthDigestNcCheck through the server: a replayed answer is 401", async () => {
      const c = await challenge("/nc/f.txt");
      assert.match(c.opaque, /^[0-9a-f]+$/);
      const auth = D.authorization(c, "GET", "/nc/f.txt", ALICE);
      assert.equal(statusOf(await get("/nc/f.txt", { Authorization: auth })), 200);
      const r = await get("/nc/f.txt", { Authorization: auth });
      assert.equal(statusOf(r), 401);
      assert.match(header(r, "WWW-Authenticate"), new RegExp(`opaque="${c.opaque}", qop="auth"$`));
    });
  });
}

describe("Digest and route plans", () => {
  it("a request under AuthType Digest is never answered from a plan: every repeat is authenticated again", async () => {
    const { Mapper } = require("../dist/map/mapper");
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-digest-plan-"));
    fs.writeFileSync(path.join(work, "app.js"), "exports.application = () => [];\n");
    const config = parseConfigText(`ServerName localhost:8080
WSGIScriptAlias /app ${work}/app.js
<Location /app>
    AuthType Digest
    AuthName "${REALM}"
    AuthUserFile ${userFile}
    Require valid-user
</Location>
<Directory ${work}>
    Require all granted
</Directory>
`, path.join(work, "site.conf"));
    const mapper = new Mapper(config, jsEngine, { log: { log() {}, close() {} } });
    const req = (headers = []) => ({ method: "GET", target: "/app/x", protocol: "HTTP/1.1", headers: ["host", "localhost:8080", ...headers],
      remoteAddress: "127.0.0.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 8080, scheme: "http" });
    const first = await mapper.map(req());
    assert.equal(first.status, 401);
    const c = D.challengeOf(first.headers[0][1]);
    const auth = ["authorization", D.authorization(c, "GET", "/app/x", ALICE)];
    for (let i = 0; i < 3; i++) {
      const ok = await mapper.map(req(auth));
      assert.equal(ok.kind, "wsgi");
      assert.ok(ok.environ.includes("REMOTE_USER"));
      assert.deepEqual(ok.responseHeaders?.map(([k]) => k), ["Authentication-Info"]);
      assert.equal((await mapper.map(req())).status, 401, `repeat ${i}`);
    }
  });
});

describe("the access log's %u: whom authentication attributed the request to (r->user), refused or not", () => {
  it("Basic and Digest: the user of credentials that were read, even on 401 and 400; none before", async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-digest-log-"));
    for (const d of ["b", "d"]) {
      fs.mkdirSync(path.join(work, d));
      fs.writeFileSync(path.join(work, d, "f.txt"), "x\n");
    }
    fs.copyFileSync(userFile, path.join(work, "htdigest"));
    fs.writeFileSync(path.join(work, "htpasswd"), "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
    fs.writeFileSync(path.join(work, "site.conf"), `ServerName localhost
Listen 127.0.0.1:0
DocumentRoot "${work}"
CustomLog "${work}/access.log" "%u %>s %U"
<Directory "${work}">
    Require all granted
</Directory>
<Directory "${work}/b">
    AuthType Basic
    AuthName "B"
    AuthUserFile "${work}/htpasswd"
    Require valid-user
</Directory>
<Directory "${work}/d">
    AuthType Digest
    AuthName "${REALM}"
    AuthUserFile "${work}/htdigest"
    Require valid-user
</Directory>
`);
    const server = await Server.start(loadConfig(path.join(work, "site.conf")), { engine: jsEngine, frontEnd: "node", errorLog: memLog(), notice: () => {} });
    const port = server.addresses[0].port;
    const get = (target, auth) => raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: ${auth}\r\n` : ""}Connection: close\r\n\r\n`);
    try {
      const basic = (u, p) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
      await get("/b/f.txt");
      await get("/b/f.txt", basic("alice", "password"));
      await get("/b/f.txt", basic("alice", "wrong"));
      const r = await get("/d/f.txt");
      const c = D.challengeOf(/^WWW-Authenticate: (.*)$/mi.exec(r)[1]);
      await get("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", ALICE));
      await get("/d/f.txt", D.authorization(c, "GET", "/d/f.txt", { user: "alice", password: "x" }));
      await get("/d/f.txt", D.authorization(c, "GET", "/d/g.txt", ALICE));
      await get("/d/f.txt", "Digest");
    } finally {
      await server.stop(1000);
    }
    assert.deepEqual(fs.readFileSync(path.join(work, "access.log"), "utf8").trim().split("\n"), [
      "- 401 /b/f.txt", "alice 200 /b/f.txt", "alice 401 /b/f.txt",
      "- 401 /d/f.txt", "alice 200 /d/f.txt", "alice 401 /d/f.txt", "alice 400 /d/f.txt", "- 401 /d/f.txt",
    ]);
  });
});
