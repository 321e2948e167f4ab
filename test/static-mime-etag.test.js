"use strict";
// Static files under mod_mime's AddEncoding/AddCharset/AddLanguage, FileETag and MultiViews,
// through a real server, on both front ends; the expected bytes were recorded from Apache 2.4.71
// serving the same tree side by side (headers in the order httpd sends them, from the raw bytes).
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { raw } = require("./helpers/http");
const { siteServer } = require("./helpers/site-server");
const { jsEngine } = require("../dist/engine/js-engine");

const MT = new Date("2024-01-02T03:04:05Z");
const MTIME_HEX = (BigInt(MT.getTime()) * 1000n).toString(16);

function writeSite(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-mime-etag-"));
  const d = path.join(dir, "htdocs");
  const files = {
    "ext/x.css.gz": "gzdata", "ext/y.html.utf8": "<p>u</p>", "ext/z.fr.DE.txt": "frde", "ext/b.gz.Z": "gzz",
    "ext/e.utf8": "e", "ext/ft/j.html.utf8.gz.fr": "j", "ext/dc/k.txt.utf8": "k", "ext/rm/i.txt.gz": "i",
    "etnone/a.txt": "etag none\n", "etnone/sub/a.txt": "nonesub\n", "etall/a.txt": "etag all\n", "etpm/a.txt": "etag pm\n",
    "etplus/a.txt": "plus\n", "etnest/sub/a.txt": "nestsub\n", "etdigest/a.txt": "digest\n",
    "mv/doc.en.html": "<p>en</p>\n", "mv/doc.de.html": "<p>de</p>\n", "mv/page.html": "<p>page</p>\n",
    "mv2/doc.en.html": "<p>en</p>\n", "mv2/doc.fr.txt": "fr\n", "mv2/doc.html.gz": "gz",
  };
  for (const [rel, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, rel)), { recursive: true });
    fs.writeFileSync(path.join(d, rel), body);
    fs.utimesSync(path.join(d, rel), MT, MT);
  }
  const conf = path.join(dir, "site.conf");
  fs.writeFileSync(conf, [
    "ServerName localhost", `Listen 127.0.0.1:${port}`, `DocumentRoot ${d}`,
    `<Directory ${d}>`, "  Require all granted", "</Directory>",
    `<Directory ${d}/ext>`, "  AddEncoding gzip .gz", "  AddEncoding x-compress Z", "  AddCharset UTF-8 .utf8",
    "  AddLanguage fr .fr", "  AddLanguage DE .de", "</Directory>",
    `<Directory ${d}/ext/ft>`, "  ForceType text/plain", "</Directory>",
    `<Directory ${d}/ext/dc>`, "  AddDefaultCharset On", "</Directory>",
    `<Directory ${d}/ext/rm>`, "  RemoveEncoding .gz", "</Directory>",
    `<Directory ${d}/etnone>`, "  FileETag None", "</Directory>",
    `<Directory ${d}/etnone/sub>`, "  FileETag +Size", "</Directory>",
    `<Directory ${d}/etall>`, "  FileETag All", "</Directory>",
    `<Directory ${d}/etpm>`, "  FileETag -MTime", "</Directory>",
    `<Directory ${d}/etplus>`, "  FileETag +INode", "</Directory>",
    `<Directory ${d}/etnest>`, "  FileETag INode", "</Directory>",
    `<Directory ${d}/etnest/sub>`, "  FileETag +Size -INode", "</Directory>",
    `<Directory ${d}/etdigest>`, "  FileETag Digest", "</Directory>",
    `<Directory ${d}/mv>`, "  Options +MultiViews", "  AddLanguage en .en", "  AddLanguage de .de", "</Directory>",
    `<Directory ${d}/mv2>`, "  Options +MultiViews", "  AddLanguage en .en", "  AddLanguage fr .fr", "  AddEncoding gzip .gz", "</Directory>",
    "",
  ].join("\n"));
  writeSite.docs = d;
  return conf;
}

/** Status and the headers that matter here, in order (Date, Server, framing left out). */
function parse(text) {
  const [head, ...rest] = text.split("\r\n\r\n");
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = lines.map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)])
    .filter(([n]) => !/^(date|server|content-length|connection|keep-alive|uwebsockets)$/i.test(n));
  return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
}

const get = async (port, target, extra = "") => parse(await raw(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`));
const header = (r, name) => r.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
const LM = ["Last-Modified", "Tue, 02 Jan 2024 03:04:05 GMT"];
const AR = ["Accept-Ranges", "bytes"];

for (const frontEnd of ["node", "uws"]) {
  describe(`static files: mod_mime, FileETag, MultiViews (${frontEnd} front end)`, () => {
    const live = siteServer(writeSite, jsEngine, frontEnd);

    it("AddEncoding, AddCharset, AddLanguage: every extension, any case, lower-cased values", async () => {
      const p = live.port;
      assert.deepEqual((await get(p, "/ext/x.css.gz")).headers, [LM, ["ETag", `"6-${MTIME_HEX}"`], AR, ["Content-Type", "application/gzip"], ["Content-Encoding", "gzip"]]);
      assert.equal(header(await get(p, "/ext/y.html.utf8"), "Content-Type"), "text/html; charset=utf-8");
      const z = await get(p, "/ext/z.fr.DE.txt");
      assert.equal(header(z, "Content-Type"), "text/plain");
      assert.equal(header(z, "Content-Language"), "fr,de");
      assert.equal(header(await get(p, "/ext/b.gz.Z"), "Content-Encoding"), "gzip, x-compress");
      // A charset without a type is dropped; ForceType replaces the type and its charset only.
      assert.equal(header(await get(p, "/ext/e.utf8"), "Content-Type"), undefined);
      const j = await get(p, "/ext/ft/j.html.utf8.gz.fr");
      assert.deepEqual(j.headers.slice(3), [["Content-Type", "text/plain"], ["Content-Encoding", "gzip"], ["Content-Language", "fr"]]);
      // AddCharset wins over AddDefaultCharset; RemoveEncoding undoes an inherited AddEncoding.
      assert.equal(header(await get(p, "/ext/dc/k.txt.utf8"), "Content-Type"), "text/plain; charset=utf-8");
      assert.equal(header(await get(p, "/ext/rm/i.txt.gz"), "Content-Encoding"), undefined);
      // 304 carries no entity headers; a range keeps them.
      assert.deepEqual((await get(p, "/ext/x.css.gz", "If-None-Match: *\r\n")).headers, [LM, ["ETag", `"6-${MTIME_HEX}"`], AR]);
      assert.equal(header(await get(p, "/ext/x.css.gz", "Range: bytes=0-1\r\n"), "Content-Encoding"), "gzip");
    });

    it("FileETag: httpd's format for each combination, inherited and adjusted as httpd merges it", async () => {
      const p = live.port;
      const ino = (rel) => fs.statSync(path.join(writeSite.docs, rel)).ino.toString(16);
      assert.equal(header(await get(p, "/etnone/a.txt"), "ETag"), undefined);
      assert.equal(header(await get(p, "/etnone/sub/a.txt"), "ETag"), '"8"');
      assert.equal(header(await get(p, "/etall/a.txt"), "ETag"), `"${ino("etall/a.txt")}-9-${MTIME_HEX}"`);
      assert.equal(header(await get(p, "/etpm/a.txt"), "ETag"), `"8-${MTIME_HEX}"`);
      assert.equal(header(await get(p, "/etplus/a.txt"), "ETag"), `"${ino("etplus/a.txt")}"`);
      assert.equal(header(await get(p, "/etnest/sub/a.txt"), "ETag"), '"8"');
      const sha = crypto.createHash("sha1").update("digest\n").digest("base64");
      assert.equal(header(await get(p, "/etdigest/a.txt"), "ETag"), `"${sha}"`);
      assert.equal((await get(p, "/etdigest/a.txt", `If-None-Match: "${sha}"\r\n`)).status, 304);
    });

    it("FileETag None: conditions as httpd evaluates them without an ETag", async () => {
      const p = live.port;
      const nm = await get(p, "/etnone/a.txt", "If-None-Match: *\r\n");
      assert.equal(nm.status, 304);
      assert.deepEqual(nm.headers, [LM, AR]);
      assert.equal((await get(p, "/etnone/a.txt", "If-Match: *\r\n")).status, 200);
      assert.equal((await get(p, "/etnone/a.txt", 'If-Match: "x"\r\n')).status, 412);
      assert.equal((await get(p, "/etnone/a.txt", 'If-None-Match: "x"\r\n')).status, 200);
      assert.equal((await get(p, "/etnone/a.txt", 'Range: bytes=0-1\r\nIf-Range: "x"\r\n')).status, 200);
    });

    it("MultiViews: Content-Location, Vary, TCN, Content-Language and the structured ETag", async () => {
      const p = live.port;
      const vlv = (fs.statSync(path.join(writeSite.docs, "mv"), { bigint: true }).mtimeNs / 1000n).toString(16);
      const r = await get(p, "/mv/doc", "Accept-Language: de\r\n");
      assert.equal(r.status, 200);
      assert.equal(r.body, "<p>de</p>\n");
      // httpd drops the closing quote of a negotiated ETag (apr_cpystrn in etag_end); we send it terminated.
      const etag = new RegExp(`^(W/)?"a-${MTIME_HEX};${vlv}"$`);
      assert.deepEqual(r.headers.slice(0, 4), [["Content-Location", "doc.de.html"], ["Vary", "negotiate,accept-language"], ["TCN", "choice"], LM]);
      assert.match(header(r, "ETag"), etag);
      assert.deepEqual(r.headers.slice(5), [AR, ["Content-Type", "text/html"], ["Content-Language", "de"]]);
      const nm = await get(p, "/mv/doc", "Accept-Language: de\r\nIf-None-Match: *\r\n");
      assert.equal(nm.status, 304);
      // The tag as sent validates the variant: a strong one answers If-Match, any one If-None-Match.
      const tag = header(r, "ETag");
      assert.equal((await get(p, "/mv/doc", `Accept-Language: de\r\nIf-None-Match: ${tag}\r\n`)).status, 304);
      if (!tag.startsWith("W/")) assert.equal((await get(p, "/mv/doc", `Accept-Language: de\r\nIf-Match: ${tag}\r\n`)).status, 200);
      assert.deepEqual(nm.headers.slice(0, 3), [["Content-Location", "doc.de.html"], ["Vary", "negotiate,accept-language"], ["TCN", "choice"]]);
      // One variant: Vary is only negotiate. Not GET: no TCN, no Content-Location.
      assert.equal(header(await get(p, "/mv/page"), "Vary"), "negotiate");
      const post = parse(await raw(p, "POST /mv/doc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nAccept-Language: en\r\nConnection: close\r\n\r\n"));
      assert.deepEqual(post.headers.slice(0, 2), [["Vary", "accept-language"], LM]);
      // en-us falls back to en (httpd's 0.001 fiddle); no Accept-Language prefers a variant with a language.
      assert.equal(header(await get(p, "/mv/doc", "Accept-Language: en-us\r\n"), "Content-Language"), "en");
      const mv2 = await get(p, "/mv2/doc");
      assert.equal(header(mv2, "Content-Location"), "doc.fr.txt");
      assert.equal(header(mv2, "Vary"), "negotiate,accept,accept-language,accept-encoding");
      assert.equal(header(await get(p, "/mv2/doc", "Accept: */*;q=0.1, application/gzip\r\nAccept-Encoding: gzip\r\n"), "Content-Encoding"), "gzip");
    });

    it("MultiViews: no acceptable variant is httpd's 406 with Alternates and the variant list", async () => {
      const r = await get(live.port, "/mv2/doc", "Accept: image/png\r\n");
      assert.equal(r.status, 406);
      assert.deepEqual(r.headers, [
        ["Alternates", '{"doc.en.html" 1 {type text/html} {language en} {length 10}}, {"doc.fr.txt" 1 {type text/plain} {language fr} {length 3}}, {"doc.html.gz" 1 {type application/gzip} {encoding gzip} {length 2}}'],
        ["Vary", "negotiate,accept,accept-language,accept-encoding"], ["TCN", "list"], ["Content-Type", "text/html; charset=iso-8859-1"],
      ]);
      assert.equal(r.body, [
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">',
        "<html><head>", "<title>406 Not Acceptable</title>", "</head><body>", "<h1>Not Acceptable</h1>",
        "<p>An appropriate representation of the requested resource could not be found on this server.</p>",
        "Available variants:", "<ul>",
        '<li><a href="doc.en.html">doc.en.html</a> , type text/html, language en</li>',
        '<li><a href="doc.fr.txt">doc.fr.txt</a> , type text/plain, language fr</li>',
        '<li><a href="doc.html.gz">doc.html.gz</a> , type application/gzip, encoding gzip</li>',
        "</ul>", "</body></html>", "",
      ].join("\n"));
      assert.equal((await get(live.port, "/mv/doc", "Accept-Language: fr\r\n")).status, 406);
    });
  });
}
