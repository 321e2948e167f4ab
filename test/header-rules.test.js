"use strict";
// mod_headers (Header, RequestHeader) and mod_setenvif (SetEnvIf, BrowserMatch) as pure rules.
const { it } = require("node:test");
const assert = require("node:assert/strict");
const { parseConfigText } = require("../dist/config");
const { applyRequestHeaderRules, applyResponseHeaderRules, rulesOf } = require("../dist/http/header-rules");
const { applySetEnvIf } = require("../dist/map/setenvif");

function dirOf(lines) {
  return parseConfigText(lines.join("\n") + "\n", "rules.conf").main.dir;
}

const ctx = (env = {}) => ({ env: new Map(Object.entries(env)), requestHeaders: ["host", "x.test", "x-trace", "abc", "x-other", "1"], startMicros: 1_000_000 });

it("Header: set, append, merge, add, setifempty, unset, edit, echo, and %{VAR}e", () => {
  const dir = dirOf([
    "Header set X-Frame-Options DENY",
    "Header append Cache-Control no-store",
    "Header merge Vary Accept-Encoding",
    "Header merge Vary Accept-Encoding",
    "Header add Set-Cookie b=2",
    "Header setifempty X-Empty filled",
    "Header unset Server",
    'Header edit Location ^http: https:',
    "Header echo ^x-tr",
    "Header set X-Who %{USER}e",
  ]);
  const out = applyResponseHeaderRules(rulesOf(dir.headers, "Header"), false, [
    ["Cache-Control", "private"],
    ["Set-Cookie", "a=1"],
    ["X-Empty", ""],
    ["Server", "app"],
    ["Location", "http://x.test/next"],
  ], ctx({ USER: "alice" }));
  // As httpd 2.4.71: setifempty leaves a present (even empty) header; an edited header moves to
  // the end; echoed names come in their usual capitalisation.
  assert.deepEqual(out, [
    ["Cache-Control", "private, no-store"],
    ["Set-Cookie", "a=1"],
    ["X-Empty", ""],
    ["X-Frame-Options", "DENY"],
    ["Vary", "Accept-Encoding"],
    ["Set-Cookie", "b=2"],
    ["Location", "https://x.test/next"],
    ["X-Trace", "abc"],
    ["X-Who", "alice"],
  ]);
});

it("Header: onsuccess rules edit the content's headers whatever its status, always rules a table sent first; the server's error pages get only always; env= conditions", () => {
  const dir = dirOf(["Header set X-A a", "Header always set X-B b", "Header set X-C c env=DEBUG", "Header set X-D d env=!DEBUG", "Header always unset X-App", "Header always set X-Both always", "Header set X-Both onsuccess"]);
  const rules = rulesOf(dir.headers, "Header");
  // The server's own error or redirect page (httpd's ap_send_error_response).
  assert.deepEqual(applyResponseHeaderRules(rules, true, [["Location", "/x"]], ctx()), [["X-B", "b"], ["X-Both", "always"], ["Location", "/x"]]);
  // An application's 404: both tables; `always unset` does not reach the application's header.
  assert.deepEqual(applyResponseHeaderRules(rules, false, [["X-App", "1"]], ctx({ DEBUG: "1" })), [
    ["X-B", "b"], ["X-Both", "always"], ["X-App", "1"], ["X-A", "a"], ["X-C", "c"], ["X-Both", "onsuccess"],
  ]);
  assert.deepEqual(applyResponseHeaderRules(rules, false, [], ctx()), [["X-B", "b"], ["X-Both", "always"], ["X-A", "a"], ["X-D", "d"], ["X-Both", "onsuccess"]]);
});

it("Header: set keeps the first field's place; setifempty only adds an absent header; merge compares whole tokens; Content-Type set by an always rule", () => {
  const dir = dirOf(["Header set X-Set one", "Header setifempty X-Sie new", "Header merge X-M a", 'Header merge X-Q "b"', "Header always set Content-Type text/x-new"]);
  const out = applyResponseHeaderRules(rulesOf(dir.headers, "Header"), false, [
    ["X-Set", "zzz"], ["Content-Type", "text/plain"], ["X-Set", "yyy"], ["X-Sie", ""], ["X-M", "ab, \"a, b\""], ["X-Q", "a, \"b\""],
  ], ctx());
  assert.deepEqual(out, [["X-Set", "one"], ["Content-Type", "text/x-new"], ["X-Sie", ""], ["X-M", "ab, \"a, b\", a"], ["X-Q", "a, \"b\", b"]]);
});

it("Header values: mod_headers' tags and escapes; an unknown tag or a line break is a configuration error", () => {
  const dir = dirOf(['Header set X-V "100%% %{U}e %{X}e %{HTTPS}s %l|%i|%b \\tq\\\\ x"', "Header set X-T %t"]);
  const out = applyResponseHeaderRules(rulesOf(dir.headers, "Header"), false, [], ctx({ U: "a\nb" }));
  assert.match(out[0][1], /^100% a b \(null\) \(null\) l=\d+\.\d\d\/\d+\.\d\d\/\d+\.\d\d\|i=\d+\|b=\d+ \tq\\ x$/);
  assert.deepEqual(out[1], ["X-T", "t=1000000"]);
  assert.throws(() => dirOf(["Header set X-H %{User-Agent}x"]), /Unrecognized header format %x/);
  assert.throws(() => dirOf(['Header set X-H "a\\nb"']), /line break/);
});

it("Header note records a header's value for the access log", () => {
  const dir = dirOf(["Header note X-Out outnote", "Header note X-None nonote"]);
  const notes = new Map();
  applyResponseHeaderRules(rulesOf(dir.headers, "Header"), false, [["X-Out", "v"]], { ...ctx(), notes });
  assert.deepEqual([...notes], [["outnote", "v"]]);
});

it("RequestHeader rewrites what the application will see", () => {
  const dir = dirOf(["RequestHeader set X-Forwarded-Proto https", "RequestHeader unset X-Other", "RequestHeader append X-Trace more"]);
  const out = applyRequestHeaderRules(rulesOf(dir.headers, "RequestHeader"), ["host", "x.test", "x-trace", "abc", "x-other", "1"], ctx());
  assert.deepEqual(out, ["host", "x.test", "x-trace", "abc, more", "x-forwarded-proto", "https"]);
});

it("expr= conditions are parsed at configuration time; a bad one and value expressions are refused", () => {
  const dir = dirOf(["Header set X-A a \"expr=%{REQUEST_URI} == '/'\""]);
  assert.equal(dir.headers[0].expr.source, "%{REQUEST_URI} == '/'");
  assert.throws(() => dirOf(["Header set X-A a \"expr=%{NOPE} == '/'\""]), /Can't parse envclause\/expression: Variable 'NOPE' does not exist/);
  assert.equal(dirOf(["Header set X-A \"expr=%{REQUEST_URI}!\""]).headers[0].valueExpr.source, "%{REQUEST_URI}!");
  assert.throws(() => dirOf(["Header set X-A \"expr=%{NOPE}\""]), /Can't parse value expression : Variable 'NOPE' does not exist/);
  assert.throws(() => dirOf(["Header edit X-A ^a \"expr=%{REQUEST_URI}\""]), /edit replacement given as an expression/);
});

it("a value expression is evaluated per response; one that fails gives an empty value", () => {
  const dir = dirOf(["Header set X-A \"expr=%{REQUEST_URI}\"", "Header set X-B \"expr=file('/nonexistent')\""]);
  const exprValue = (e) => (e.source.startsWith("file") ? "" : "/x");
  assert.deepEqual(applyResponseHeaderRules(dir.headers, false, [], { ...ctx(), exprValue }), [["X-A", "/x"], ["X-B", ""]]);
});

it("expr= conditions decide with the context's evaluator; one that fails to evaluate applies, as mod_headers", () => {
  const dir = dirOf(["Header set X-A a \"expr=resp('X-B') == 'b'\"", "Header set X-C c \"expr=false\""]);
  const seen = [];
  const ctx = { env: new Map(), requestHeaders: [], startMicros: 0, expr: (e, response) => (seen.push([response.status, response.headers.map(([n]) => n)]), e.source.startsWith("resp") ? null : false) };
  const out = applyResponseHeaderRules(dir.headers, false, [["X-B", "b"]], ctx, 404);
  assert.deepEqual(out, [["X-B", "b"], ["X-A", "a"]]);
  assert.deepEqual(seen[0], [404, ["X-B"]]);
});

it("SetEnvIf, SetEnvIfNoCase and BrowserMatch", () => {
  const dir = dirOf([
    "SetEnvIf Request_URI ^/api/(v\\d+) API_VERSION=$1",
    "SetEnvIf Remote_Addr ^127\\. LOCAL",
    "SetEnvIfNoCase X-Mode ^DEBUG$ DEBUG=yes",
    "BrowserMatch ^curl CLI !LOCAL",
    "SetEnvIf API_VERSION v2 MODERN=1",
  ]);
  const env = new Map();
  applySetEnvIf(dir.setEnvIf, { method: "GET", target: "/api/v2/x", protocol: "HTTP/1.1", remoteAddress: "127.0.0.1", localAddress: "127.0.0.1", headers: ["x-mode", "debug", "user-agent", "curl/8"] }, "/api/v2/x", env);
  assert.deepEqual(Object.fromEntries(env), { API_VERSION: "v2", DEBUG: "yes", CLI: "1", MODERN: "1" });
});

it("end to end: SetEnvIf, RequestHeader and Header on static files, applications and error pages", async () => {
  const fs = require("node:fs");
  const os = require("node:os");
  const path = require("node:path");
  const http = require("./helpers/http");
  const { loadConfig } = require("../dist/config");
  const { Server } = require("../dist/server");
  const { jsEngine } = require("../dist/engine/js-engine");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-headers-"));
  fs.writeFileSync(path.join(dir, "page.txt"), "static\n");
  fs.writeFileSync(
    path.join(dir, "app.js"),
    `exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"], ["Server", "app"]]); return [JSON.stringify({ proto: e.HTTP_X_FORWARDED_PROTO, trace: e.HTTP_X_TRACE, api: e.API }) ]; };\n`,
  );
  fs.writeFileSync(
    path.join(dir, "site.conf"),
    [
      "ServerName localhost",
      "Listen 127.0.0.1:0",
      `DocumentRoot ${dir}`,
      `WSGIScriptAlias /app ${dir}/app.js application-group=%{GLOBAL}`,
      `<Directory ${dir}>`,
      "    Require all granted",
      "    SetEnvIf Request_URI ^/app/(v\\d) API=$1",
      "    RequestHeader set X-Forwarded-Proto https",
      "    RequestHeader unset X-Trace",
      "    Header set X-Frame-Options DENY",
      "    Header unset Server",
      "    Header always set X-Served-By nodewsgi",
      "    Header set X-Api %{API}e env=API",
      // httpd 2.4.71: Header's expressions read the fields as RequestHeader left them.
      "    Header set X-Edited 1 \"expr=%{HTTP:X-Forwarded-Proto} == 'https' && -z req('X-Trace')\"",
      "</Directory>",
      "",
    ].join("\n"),
  );
  const server = await Server.start(loadConfig(path.join(dir, "site.conf")), { engine: jsEngine, frontEnd: "node", errorLog: { log() {}, close() {} }, accessLog: null, notice: () => {} });
  const port = server.addresses[0].port;
  const get = (p, headers = {}) => http.get(port, p, headers);
  try {
    const app = await get("/app/v2/items", { "X-Trace": "secret" });
    assert.deepEqual(JSON.parse(app.body), { proto: "https", api: "v2" });
    assert.equal(app.headers["x-frame-options"], "DENY");
    // The application's Server header is gone; the server's own banner is added after mod_headers
    // ran (httpd's basic_http_header), so `Header unset Server` cannot remove that one.
    assert.match(app.headers.server, /^nodewsgi\//);
    assert.equal(app.headers["x-api"], "v2");
    assert.equal(app.headers["x-edited"], "1");
    assert.equal((await get("/page.txt", { "X-Forwarded-Proto": "http", "X-Trace": "t" })).headers["x-edited"], "1");
    const file = await get("/page.txt");
    assert.equal(file.body, "static\n");
    assert.equal(file.headers["x-frame-options"], "DENY");
    assert.equal(file.headers["x-api"], undefined);
    const missing = await get("/nothing.txt");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers["x-served-by"], "nodewsgi");
    assert.equal(missing.headers["x-frame-options"], undefined);
  } finally {
    await server.stop(1000);
  }
});

// Recorded with Apache 2.4.71 + mod_wsgi 4.9.4: an application's own 404 carries onsuccess
// headers; mod_alias' redirect, mod_dir's slash redirect and a failed application's 500 (pages
// httpd makes itself) carry only the always table, sent first.
for (const frontEnd of ["node", "uws"]) {
  it(`end to end (${frontEnd}): onsuccess rules on the application's own errors, only always rules on the server's pages`, async () => {
    const fs = require("node:fs");
    const os = require("node:os");
    const path = require("node:path");
    const { exchange } = require("./helpers/raw-http");
    const { loadConfig } = require("../dist/config");
    const { Server } = require("../dist/server");
    const { jsEngine } = require("../dist/engine/js-engine");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-headers-"));
    fs.mkdirSync(path.join(dir, "d"));
    fs.writeFileSync(path.join(dir, "f.txt"), "file\n");
    fs.writeFileSync(path.join(dir, "app.js"), `exports.application = (e, sr) => { if (e.QUERY_STRING === "fail") throw new Error("x"); sr(e.QUERY_STRING === "nf" ? "404 Not Found" : "200 OK", [["Content-Type", "text/plain"], ["X-App", "1"]]); return ["ok"]; };\n`);
    fs.writeFileSync(path.join(dir, "site.conf"), [
      "ServerName localhost", "Listen 127.0.0.1:0", `DocumentRoot ${dir}`, `WSGIScriptAlias /app ${dir}/app.js application-group=%{GLOBAL}`,
      `<Directory ${dir}>`, "    Require all granted", "</Directory>", "Redirect /old /new",
      "Header set X-S s", "Header always set X-A a", "Header always unset X-App", "",
    ].join("\n"));
    const server = await Server.start(loadConfig(path.join(dir, "site.conf")), { engine: jsEngine, frontEnd, errorLog: { log() {}, close() {} }, accessLog: null, notice: () => {} });
    const port = server.addresses[0].port;
    const head = async (target, extra = "") => {
      const r = await exchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
      const text = r.raw.toString("latin1");
      return text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n").filter((l) => /^(HTTP|X-)/i.test(l));
    };
    try {
      assert.deepEqual(await head("/app?nf"), ["HTTP/1.1 404 Not Found", "X-A: a", "X-App: 1", "X-S: s"]);
      assert.deepEqual(await head("/f.txt", 'If-Match: "zz"\r\n'), ["HTTP/1.1 412 Precondition Failed", "X-A: a", "X-S: s"]);
      assert.deepEqual(await head("/old"), ["HTTP/1.1 302 Found", "X-A: a"]);
      assert.deepEqual(await head("/d"), ["HTTP/1.1 301 Moved Permanently", "X-A: a"]);
      assert.deepEqual(await head("/app?fail"), ["HTTP/1.1 500 Internal Server Error", "X-A: a"]);
    } finally {
      await server.stop(1000);
    }
  });
}

// Recorded with Apache 2.4.71: a missing header is the empty string; a pattern without regex
// metacharacters keeps its values as written; ap_pregsub's `\c`; a regex over header names takes
// the last matching field; BrowserMatchNoCase.
it("SetEnvIf as mod_setenvif: absent is empty, plain patterns, \\ escapes, header-name regexes, BrowserMatchNoCase", () => {
  const dir = dirOf([
    'SetEnvIf X-None "^$" NONE=1',
    'SetEnvIf X-Sub "ab" SIMPLE=$0',
    'SetEnvIf X-Sub "^(a)(b)$" SUB=\\$1\\$2\\x$0',
    'SetEnvIf ^X-Re "(.+)" XRE=$1',
    'BrowserMatchNoCase "^moz" MOZ',
    // An escaped ordinary character is regex syntax, so $0 is substituted (recorded: "a\\d" on /a1 gives xa1y).
    'SetEnvIf X-Sub "a\\w" ESC=x$0y',
  ]);
  const env = new Map();
  const req = { method: "GET", target: "/", protocol: "HTTP/1.1", remoteAddress: "127.0.0.1", localAddress: "127.0.0.1",
    headers: ["x-sub", "ab", "x-rebel", "one", "x-real", "two", "user-agent", "Mozilla/5"] };
  applySetEnvIf(dir.setEnvIf, req, "/", env);
  assert.deepEqual(Object.fromEntries(env), { NONE: "1", SIMPLE: "$0", SUB: "$1$2xab", XRE: "two", MOZ: "1", ESC: "xaby" });
});

it("SetEnvIf: a header-name regex that cannot compile is a configuration error with file and line, not a 500 per request", () => {
  assert.throws(() => dirOf(['SetEnvIf "X-(" "a" V=1']), /\.conf:1: SetEnvIf/);
});
