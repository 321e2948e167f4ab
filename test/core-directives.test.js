"use strict";
// Core directives that change what a client or an application sees, through a real server on
// both engines and both front ends: ServerAdmin, UseCanonicalName, TraceEnable, MergeSlashes,
// AddDefaultCharset, ServerSignature, ServerTokens. Expected values were checked against
// Apache 2.4.71 + mod_wsgi 4.9.4.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { availableEngines } = require("./helpers/engines");
const { raw: rawHttp } = require("./helpers/http");
const { traceMessage } = require("../dist/static/trace");
const { withCharset } = require("../dist/static/default-charset");
const { serverBanner, serverIdentity } = require("../dist/map/host");

const nullLog = { log() {}, close() {} };

/** A raw request's answer, parsed. */
async function raw(port, text) {
  return parse(await rawHttp(port, text));
}

/** Status, headers (lower-case names) and the body, de-chunked. */
function parse(text) {
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end).split("\r\n");
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = text.slice(end + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    let out = "";
    for (;;) {
      const nl = body.indexOf("\r\n");
      const n = parseInt(body.slice(0, nl), 16);
      if (!n) break;
      out += body.slice(nl + 2, nl + 2 + n);
      body = body.slice(nl + 4 + n);
    }
    body = out;
  }
  return { status: Number(lines[0].split(" ")[1]), headers, body, text };
}

const get = (port, p, host = "x.test:8080", extra = "") => raw(port, `GET ${p} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);

const APP = `exports.application = (e, sr) => {
  const keys = ["SERVER_NAME", "SERVER_PORT", "SERVER_ADMIN", "SERVER_SIGNATURE", "SERVER_SOFTWARE", "SCRIPT_NAME", "PATH_INFO"];
  const out = {};
  for (const k of keys) out[k] = e[k];
  if (e.PATH_INFO === "/fail") throw new Error("expected failure");
  const type = decodeURIComponent(e.QUERY_STRING || "application/json");
  sr("200 OK", [["Content-Type", type]]);
  return [JSON.stringify(out)];
};
`;

function writeSite(lines) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-core-"));
  fs.writeFileSync(path.join(dir, "app.js"), APP);
  fs.mkdirSync(path.join(dir, "site", "charset"), { recursive: true });
  fs.mkdirSync(path.join(dir, "site", "denied"), { recursive: true });
  fs.writeFileSync(path.join(dir, "site", "a.txt"), "hello\n");
  fs.writeFileSync(path.join(dir, "site", "charset", "c.txt"), "plain\n");
  fs.writeFileSync(path.join(dir, "site", "charset", "c.html"), "<p>x</p>\n");
  fs.writeFileSync(path.join(dir, "site", "charset", "c.css"), "p{}\n");
  fs.writeFileSync(path.join(dir, "site", "denied", "d.txt"), "no\n");
  const conf = lines.join("\n").replaceAll("@DIR@", dir) + "\n";
  fs.writeFileSync(path.join(dir, "site.conf"), conf);
  return path.join(dir, "site.conf");
}

const BASE = [
  "Listen 127.0.0.1:0",
  "DocumentRoot @DIR@/site",
  "<Directory />",
  "    Require all denied",
  "</Directory>",
  "<Directory @DIR@/site>",
  "    Require all granted",
  "</Directory>",
  "<Directory @DIR@/site/denied>",
  "    Require all denied",
  "</Directory>",
  "<Directory @DIR@>",
  "    Require all granted",
  "</Directory>",
  "WSGIScriptAlias /app @DIR@/app.js",
];

const MAIN = [
  "ServerName canon.example:8443",
  "ServerAdmin admin@example.test",
  "ServerTokens Prod",
  ...BASE,
  "<Location /app/canon>",
  "    UseCanonicalName On",
  "</Location>",
  "<Location /app/dns>",
  "    UseCanonicalName DNS",
  "</Location>",
  "<Location /app/sig>",
  "    ServerSignature On",
  "</Location>",
  "<Location /app/mail>",
  "    ServerSignature EMail",
  "</Location>",
  "<Location /missing>",
  "    ServerSignature On",
  "</Location>",
  "<Directory @DIR@/site/charset>",
  "    AddDefaultCharset utf-8",
  "</Directory>",
  "<Location /app/charset>",
  "    AddDefaultCharset On",
  "</Location>",
  "RewriteEngine On",
  "RewriteRule ^/r//(.*)$ /got/$1 [R=302]",
  "RewriteRule ^/traced$ /elsewhere [R=302]",
];

const VHOSTS = [
  "ServerName main.test",
  "ServerAdmin main@example.test",
  ...BASE,
  "RewriteEngine On",
  "RewriteOptions Inherit",
  "<VirtualHost *>",
  "    ServerName on.test",
  "    UseCanonicalName On",
  "    RewriteEngine On",
  "    RewriteRule ^/r//(.*)$ /got/$1 [R=302]",
  "</VirtualHost>",
  "<VirtualHost *>",
  "    ServerName off.test",
  "    ServerAdmin off@example.test",
  "    TraceEnable Off",
  "    MergeSlashes Off",
  "    RewriteEngine On",
  "    RewriteRule ^/r//(.*)$ /got/$1 [R=302]",
  "</VirtualHost>",
  "<VirtualHost *>",
  "    ServerName ext.test",
  "    TraceEnable extended",
  "</VirtualHost>",
];

describe("core directives: pure parts", () => {
  it("traceMessage: request line, headers once in first-arrival order with repeats joined, empty line", () => {
    const m = traceMessage({ method: "TRACE", target: "/a?q=1", protocol: "HTTP/1.1", headers: ["host", "x", "x-b", "two", "x-a", "one", "x-a", "again"] });
    assert.equal(m, "TRACE /a?q=1 HTTP/1.1\r\nhost: x\r\nx-b: two\r\nx-a: one, again\r\n\r\n");
  });
  it("withCharset: only text/plain and text/html without a charset", () => {
    assert.equal(withCharset("text/html", "utf-8"), "text/html; charset=utf-8");
    assert.equal(withCharset("TEXT/PLAIN", "utf-8"), "TEXT/PLAIN; charset=utf-8");
    assert.equal(withCharset("text/html; charset=latin1", "utf-8"), "text/html; charset=latin1");
    assert.equal(withCharset("text/css", "utf-8"), "text/css");
    assert.equal(withCharset("application/json", "utf-8"), "application/json");
  });
  it("serverBanner follows ServerTokens", () => {
    assert.equal(serverBanner({ value: "Prod" }), "nodewsgi");
    assert.match(serverBanner({ value: "Major" }), /^nodewsgi\/\d+$/);
    assert.match(serverBanner({ value: "Min" }), /^nodewsgi\/\d+\.\d+\.\d+$/);
    assert.match(serverBanner(undefined), /^nodewsgi\/[\d.]+ \(\w+\) Node\.js\//);
  });
  it("serverIdentity: Off takes the Host port, else ServerName's; On takes ServerName's", () => {
    const conf = { name: "canon.example", port: "8443" };
    assert.deepEqual(serverIdentity("off", conf, { name: "x", port: "8080" }, "http", "127.0.0.1"), { serverName: "x", serverPort: "8080" });
    assert.deepEqual(serverIdentity(undefined, conf, { name: "x", port: undefined }, "http", "127.0.0.1"), { serverName: "x", serverPort: "8443" });
    assert.deepEqual(serverIdentity("on", conf, { name: "x", port: "8080" }, "http", "127.0.0.1"), { serverName: "canon.example", serverPort: "8443" });
    assert.deepEqual(serverIdentity("on", { name: "c", port: undefined }, { name: "x", port: "8080" }, "https", "127.0.0.1"), { serverName: "c", serverPort: "443" });
    assert.deepEqual(serverIdentity("dns", conf, { name: "x", port: undefined }, "http", "::ffff:127.0.0.1"), { serverName: "127.0.0.1", serverPort: "8443" });
  });
});

const engines = availableEngines();

for (const [engineName, engine] of engines) {
  for (const frontEnd of ["node", "uws"]) {
    describe(`core directives (${engineName} engine, ${frontEnd} front end)`, () => {
      let main;
      let vhosts;
      let p;
      let q;
      before(async () => {
        const opts = { engine, frontEnd, errorLog: nullLog, accessLog: null, notice: () => {} };
        main = await Server.start(loadConfig(writeSite(MAIN)), opts);
        vhosts = await Server.start(loadConfig(writeSite(VHOSTS)), opts);
        p = main.addresses[0].port;
        q = vhosts.addresses[0].port;
      });
      after(async () => {
        await main?.stop(1000);
        await vhosts?.stop(1000);
      });

      it("ServerAdmin: SERVER_ADMIN, the 500 page; a virtual host inherits the main server's", async () => {
        const r = await get(p, "/app/x");
        assert.equal(JSON.parse(r.body).SERVER_ADMIN, "admin@example.test");
        const fail = await get(p, "/app/fail");
        assert.equal(fail.status, 500);
        assert.match(fail.body, /administrator at \n admin@example\.test to inform/);
        assert.equal(JSON.parse((await get(q, "/app/x", "on.test")).body).SERVER_ADMIN, "main@example.test");
        assert.equal(JSON.parse((await get(q, "/app/x", "off.test")).body).SERVER_ADMIN, "off@example.test");
      });

      it("ServerTokens: SERVER_SOFTWARE is the banner", async () => {
        assert.equal(JSON.parse((await get(p, "/app/x")).body).SERVER_SOFTWARE, "nodewsgi");
      });

      it("UseCanonicalName Off (default): the Host header's name and port, else ServerName's port", async () => {
        let e = JSON.parse((await get(p, "/app/x")).body);
        assert.equal(e.SERVER_NAME, "x.test");
        assert.equal(e.SERVER_PORT, "8080");
        e = JSON.parse((await get(p, "/app/x", "x.test")).body);
        assert.equal(e.SERVER_PORT, "8443");
      });

      it("UseCanonicalName On in a <Location>: ServerName and its port", async () => {
        const e = JSON.parse((await get(p, "/app/canon")).body);
        assert.equal(e.SERVER_NAME, "canon.example");
        assert.equal(e.SERVER_PORT, "8443");
      });

      it("UseCanonicalName DNS: the local address", async () => {
        const e = JSON.parse((await get(p, "/app/dns")).body);
        assert.equal(e.SERVER_NAME, "127.0.0.1");
      });

      it("UseCanonicalName On in a virtual host: self-referential redirects use ServerName", async () => {
        const r = await get(q, "/charset", "on.test:9999");
        assert.equal(r.status, 301);
        assert.equal(r.headers.location, "http://on.test/charset/");
        assert.equal((await get(q, "/charset", "off.test:9999")).headers.location, "http://off.test:9999/charset/");
        const e = JSON.parse((await get(q, "/app/x", "on.test:9999")).body);
        assert.equal(e.SERVER_NAME, "on.test");
        assert.equal(e.SERVER_PORT, "80");
      });

      it("ServerSignature On and EMail: SERVER_SIGNATURE and the error page footer", async () => {
        const on = JSON.parse((await get(p, "/app/sig")).body);
        assert.equal(on.SERVER_SIGNATURE, "<address>nodewsgi Server at x.test Port 8080</address>\n");
        const mail = JSON.parse((await get(p, "/app/mail")).body);
        assert.equal(mail.SERVER_SIGNATURE, '<address>nodewsgi Server at <a href="mailto:admin@example.test">x.test</a> Port 8080</address>\n');
        assert.equal(JSON.parse((await get(p, "/app/x")).body).SERVER_SIGNATURE, "");
        const missing = await get(p, "/missing");
        assert.equal(missing.status, 404);
        assert.match(missing.body, /<\/p>\n<hr>\n<address>nodewsgi Server at x\.test Port 8080<\/address>\n<\/body><\/html>\n$/);
        assert.equal(Number(missing.headers["content-length"]), Buffer.byteLength(missing.body, "latin1"));
        assert.doesNotMatch((await get(p, "/nothing")).body, /<address>/);
      });

      it("AddDefaultCharset: text/plain and text/html from applications and static files", async () => {
        assert.equal((await get(p, "/app/charset?text%2Fhtml")).headers["content-type"], "text/html; charset=iso-8859-1");
        assert.equal((await get(p, "/app/charset?text%2Fhtml%3B%20charset%3Dlatin1")).headers["content-type"], "text/html; charset=latin1");
        assert.equal((await get(p, "/app/charset?text%2Fcss")).headers["content-type"], "text/css");
        assert.equal((await get(p, "/app/x?text%2Fplain")).headers["content-type"], "text/plain");
        assert.equal((await get(p, "/charset/c.txt")).headers["content-type"], "text/plain; charset=utf-8");
        assert.equal((await get(p, "/charset/c.html")).headers["content-type"], "text/html; charset=utf-8");
        assert.equal((await get(p, "/charset/c.css")).headers["content-type"], "text/css");
        assert.equal((await get(p, "/a.txt")).headers["content-type"], "text/plain");
        assert.equal((await get(p, "/charset/none")).headers["content-type"], "text/html; charset=iso-8859-1");
      });

      it("TraceEnable On (default): 200 message/http echo, before access control, after server rewrites", async () => {
        const r = await raw(p, "TRACE /denied/d.txt?q=1 HTTP/1.1\r\nHost: x.test\r\nX-B:  two \r\nX-A: one\r\nX-A: again\r\nConnection: close\r\n\r\n");
        assert.equal(r.status, 200);
        assert.equal(r.headers["content-type"], "message/http");
        assert.equal(r.body, "TRACE /denied/d.txt?q=1 HTTP/1.1\r\nhost: x.test\r\nx-b: two\r\nx-a: one, again\r\nconnection: close\r\n\r\n");
        assert.equal((await raw(p, "TRACE /app/x HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n")).status, 200);
        assert.equal((await raw(p, "TRACE /traced HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n")).status, 302);
        const zero = await raw(p, "TRACE / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assert.equal(zero.status, 200);
      });

      it("TraceEnable On: a TRACE with a body is 413", async () => {
        const r = await raw(p, "TRACE /a.txt HTTP/1.1\r\nHost: x.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
        assert.equal(r.status, 413);
        assert.match(r.body, /request data with TRACE requests/);
      });

      it("TraceEnable Off: 405 with an empty Allow", async () => {
        const r = await raw(q, "TRACE /a.txt HTTP/1.1\r\nHost: off.test\r\nConnection: close\r\n\r\n");
        assert.equal(r.status, 405);
        assert.equal(r.headers.allow, "");
        assert.match(r.body, /The requested method TRACE is not allowed/);
      });

      it("TraceEnable extended: the body is echoed too", async () => {
        const r = await raw(q, "TRACE /a.txt HTTP/1.1\r\nHost: ext.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
        assert.equal(r.status, 200);
        assert.equal(r.body, "TRACE /a.txt HTTP/1.1\r\nhost: ext.test\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc");
        const big = await raw(q, `TRACE /a.txt HTTP/1.1\r\nHost: ext.test\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n${"x".repeat(70000)}`);
        assert.equal(big.status, 413);
      });

      it("MergeSlashes: On merges `//` before mapping, Off keeps it (rewrite rules see it)", async () => {
        assert.equal((await get(q, "/r//x", "off.test")).status, 302);
        assert.equal((await get(p, "/r//x")).status, 404);
        // httpd without merging: `..` removes the empty segment.
        assert.equal((await get(q, "/a.txt//../a.txt", "off.test")).status, 404);
        assert.equal((await get(p, "/a.txt//../a.txt")).status, 200);
        assert.equal((await get(q, "//a.txt", "off.test")).status, 200);
        const e = JSON.parse((await get(q, "/app//a//b", "off.test")).body);
        assert.equal(e.SCRIPT_NAME, "/app");
        assert.equal(e.PATH_INFO, "/a/b");
      });
    });
  }
}
