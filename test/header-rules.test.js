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
  const out = applyResponseHeaderRules(rulesOf(dir.headers, "Header"), 200, [
    ["Cache-Control", "private"],
    ["Set-Cookie", "a=1"],
    ["X-Empty", ""],
    ["Server", "app"],
    ["Location", "http://x.test/next"],
  ], ctx({ USER: "alice" }));
  assert.deepEqual(out, [
    ["Cache-Control", "private, no-store"],
    ["Set-Cookie", "a=1"],
    ["X-Empty", "filled"],
    ["Location", "https://x.test/next"],
    ["X-Frame-Options", "DENY"],
    ["Vary", "Accept-Encoding"],
    ["Set-Cookie", "b=2"],
    ["x-trace", "abc"],
    ["X-Who", "alice"],
  ]);
});

it("Header: onsuccess rules skip errors, always rules do not; env= conditions", () => {
  const dir = dirOf(["Header set X-A a", "Header always set X-B b", "Header set X-C c env=DEBUG", "Header set X-D d env=!DEBUG"]);
  const rules = rulesOf(dir.headers, "Header");
  assert.deepEqual(applyResponseHeaderRules(rules, 404, [], ctx()), [["X-B", "b"]]);
  assert.deepEqual(applyResponseHeaderRules(rules, 200, [], ctx({ DEBUG: "1" })), [["X-A", "a"], ["X-B", "b"], ["X-C", "c"]]);
  assert.deepEqual(applyResponseHeaderRules(rules, 301, [], ctx()), [["X-A", "a"], ["X-B", "b"], ["X-D", "d"]]);
});

it("RequestHeader rewrites what the application will see", () => {
  const dir = dirOf(["RequestHeader set X-Forwarded-Proto https", "RequestHeader unset X-Other", "RequestHeader append X-Trace more"]);
  const out = applyRequestHeaderRules(rulesOf(dir.headers, "RequestHeader"), ["host", "x.test", "x-trace", "abc", "x-other", "1"], ctx());
  assert.deepEqual(out, ["host", "x.test", "x-trace", "abc, more", "x-forwarded-proto", "https"]);
});

it("expr= conditions are refused at configuration time", () => {
  assert.throws(() => dirOf(["Header set X-A a expr=%{REQUEST_URI}=='/'"]), /expr= conditions/);
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
