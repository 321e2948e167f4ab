"use strict";
// Apache's URL-path escaping (src/map/uri-escape.ts) and its callers. The expected Locations and
// hrefs below were recorded from Apache 2.4.71 (Debian 12) with the same configuration.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { escapeUri, osEscapePath, escapePathSegment } = require("../dist/map/uri-escape");
const { parseConfigText } = require("../dist/config");
const { Mapper } = require("../dist/map/mapper");
const { jsEngine } = require("../dist/engine/js-engine");
const { renderDirectoryListing } = require("../dist/static/autoindex");

const ALNUM = /^[A-Za-z0-9]$/;
const byte = (b) => String.fromCharCode(b);
const pct = (b) => "%" + b.toString(16).padStart(2, "0");

test("escapeUri: every octet against T_OS_ESCAPE_PATH (gen_test_char.c)", () => {
  const safe = "$-_.+!*'(),:;@&=/~";
  for (let b = 0; b < 256; b++) {
    const c = byte(b);
    const kept = ALNUM.test(c) || safe.includes(c);
    assert.equal(escapeUri(c), kept ? c : pct(b), `octet 0x${b.toString(16)}`);
  }
});

test("escapePathSegment: every octet against T_ESCAPE_PATH_SEGMENT ('/' and ';' escaped too)", () => {
  const safe = "$-_.+!*'(),:@&=~";
  for (let b = 0; b < 256; b++) {
    const c = byte(b);
    const kept = ALNUM.test(c) || safe.includes(c);
    assert.equal(escapePathSegment(c), kept ? c : pct(b), `octet 0x${b.toString(16)}`);
  }
  assert.equal(escapePathSegment("a/b;c d"), "a%2fb%3bc%20d");
});

test("escapeUri: lower-case hex, '?', '#', '%' escaped, byte strings escaped octet by octet", () => {
  assert.equal(escapeUri("/a b?c#d%e"), "/a%20b%3fc%23d%25e");
  assert.equal(escapeUri("/x;y=1/~u/"), "/x;y=1/~u/");
  assert.equal(escapeUri("/caf\u00c3\u00a9"), "/caf%c3%a9"); // the byte string of UTF-8 "café"
  assert.equal(escapeUri("\u00ff\u0000\u007f"), "%ff%00%7f");
  // Not an octet: its UTF-8 bytes, not a truncated char.
  assert.equal(escapeUri("/\u20ac\u{1f600}x"), "/%e2%82%ac%f0%9f%98%80x");
  const s = "/plain/path";
  assert.equal(escapeUri(s), s);
  assert.equal(escapeUri(""), "");
});

test("osEscapePath: './' before a colon in the first segment unless partial", () => {
  assert.equal(osEscapePath("c:d.txt", false), "./c:d.txt");
  assert.equal(osEscapePath("c:d/e", false), "./c:d/e");
  assert.equal(osEscapePath("c/d:e", false), "c/d:e");
  assert.equal(osEscapePath("c d", false), "c%20d");
  assert.equal(osEscapePath("c:d.txt", true), "c:d.txt");
});

/** `location(target)`: the Location the map phase answers `target` with under config `text`. */
function redirectsOf(text, root) {
  const mapper = new Mapper(parseConfigText(text, path.join(root, "site.conf")), jsEngine, { log: { log() {}, close() {} } });
  return async (target) => {
    const r = await mapper.map({
      method: "GET", target, protocol: "HTTP/1.1", headers: ["host", "example.test"],
      remoteAddress: "127.0.0.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 80, scheme: "http",
    });
    assert.equal(r.kind, "redirect", target);
    return r.location;
  };
}

test("callers: mod_dir, Redirect, RedirectMatch, RewriteRule [R] and autoindex escape as Apache 2.4.71", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-uriescape-"));
  fs.mkdirSync(path.join(root, "htdocs", "caf\u00e9 x;y"), { recursive: true });
  const text = [
    "ServerName example.test",
    `DocumentRoot ${root}/htdocs`,
    `<Directory ${root}>`,
    "    Require all granted",
    "</Directory>",
    "Redirect /r http://example.test/new",
    "RedirectMatch ^/m/(.*)$ /mm/$1?x=1",
    "RewriteEngine On",
    "RewriteRule ^/rw/(.*)$ /new/$1 [R]",
    "",
  ].join("\n");
  const location = redirectsOf(text, root);
  assert.equal(await location("/caf%C3%A9%20x;y"), "http://example.test/caf%c3%a9%20x;y/");
  assert.equal(await location("/r/caf%C3%A9;%20%25%3F%23~x"), "http://example.test/new/caf%c3%a9;%20%25%3f%23~x");
  assert.equal(await location("/m/caf%C3%A9;%20%25%3F%23"), "http://example.test/mm/caf%c3%a9;%20%25?#?x=1");
  assert.equal(await location("/rw/caf%C3%A9;%20%25%23"), "http://example.test/new/caf%c3%a9;%20%25%23");

  // Names are byte strings, as the listing reads them: "é" on disk is "\u00c3\u00a9".
  const html = renderDirectoryListing("/idx/", ["a;b.txt", "c:d.txt", "e f#g?h%i.txt", "caf\u00c3\u00a9.txt"].map((name) => ({ name, isDir: false })));
  const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(hrefs, ["/", "a;b.txt", "./c:d.txt", "caf%c3%a9.txt", "e%20f%23g%3fh%25i.txt"]);
});

test("mod_rewrite works on bytes: non-ASCII substitution text, int:unescape and [B] escape each octet once", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-uriescape-"));
  fs.mkdirSync(path.join(root, "htdocs"));
  const text = [
    "ServerName example.test",
    `DocumentRoot ${root}/htdocs`,
    "RewriteEngine On",
    "RewriteMap un int:unescape",
    "RewriteMap esc int:escape",
    "RewriteRule ^/lit$ /caf\u00e9?q=\u00e9 [R]",
    "RewriteRule ^/un/(.*)$ /n/${un:$1} [R]",
    "RewriteRule ^/esc/(.*)$ /n/${esc:$1\u00e9} [R]",
    "RewriteRule ^/b/(.*)$ /n?x=$1 [B,R]",
    "RewriteCond %{QUERY_STRING} =caf\u00e9",
    "RewriteRule ^/cond$ /matched [R]",
    "",
  ].join("\n");
  const location = redirectsOf(text, root);
  assert.equal(await location("/lit"), "http://example.test/caf%c3%a9?q=%c3%a9");
  assert.equal(await location("/un/caf%25C3%25A9"), "http://example.test/n/caf%c3%a9");
  assert.equal(await location("/esc/%C3%A9"), "http://example.test/n/%25c3%25a9%25c3%25a9");
  // [B] escapes the backref's octets (caf%c3%a9); the redirect then escapes the query's '%'.
  assert.equal(await location("/b/caf%C3%A9"), "http://example.test/n?x=caf%25c3%25a9");
  // The raw query's octets (a byte string) equal the CondPattern's UTF-8.
  assert.equal(await location("/cond?caf\u00c3\u00a9"), "http://example.test/matched?caf\u00c3\u00a9");
});

test("Redirect: a non-ASCII prefix matches the request's octets; the URL is sent as its octets, the rest escaped", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-uriescape-"));
  fs.mkdirSync(path.join(root, "htdocs"));
  const text = [
    "ServerName example.test",
    `DocumentRoot ${root}/htdocs`,
    "Redirect /caf\u00e9 http://example.test/th\u00e9",
    "RedirectMatch ^/m(.*)$ /m\u00e9$1",
    "",
  ].join("\n");
  const config = parseConfigText(text, path.join(root, "site.conf"));
  const mapper = new Mapper(config, jsEngine, { log: { log() {}, close() {} } });
  const map = (target) => mapper.map({
    method: "GET", target, protocol: "HTTP/1.1", headers: ["host", "example.test"],
    remoteAddress: "127.0.0.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 80, scheme: "http",
  });
  // mod_alias: alias->real unescaped (its UTF-8 octets, a byte string here), the remainder escaped.
  assert.equal((await map("/caf%C3%A9/x%20y")).location, "http://example.test/th\u00c3\u00a9/x%20y");
  assert.equal((await map("/m/%C3%A9")).location, "http://example.test/m%c3%a9/%c3%a9");
  assert.equal((await map("/caf")).kind, "error");
  // Converted once, when the configuration is read.
  const r = config.main.redirects[0];
  assert.equal(r.prefixBytes, "/caf\u00c3\u00a9");
  assert.equal(r.urlBytes, "http://example.test/th\u00c3\u00a9");
});
