"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const {
  serveFile, errorPage, serveDirectoryListing, MimeTable, evaluateRange, makeETag,
} = require("../dist/static");

/** A ResponseSink that records everything; `pressureEvery` makes every Nth write report backpressure. */
function fakeSink({ pressureEvery = 0, abortAfterWrites = -1 } = {}) {
  const s = {
    status: 0, reason: "", headers: [], chunks: [], ended: false, destroyed: false, aborted: false,
    writes: 0, drains: 0, abortCbs: [],
    onAbort(cb) { this.abortCbs.push(cb); },
    writeHead(status, reason, headers) {
      assert.equal(this.status, 0, "writeHead twice");
      this.status = status; this.reason = reason; this.headers = headers.map((h) => [...h]);
    },
    write(chunk) {
      assert.ok(!this.ended);
      this.chunks.push(Buffer.from(chunk)); this.writes++;
      if (this.writes === abortAfterWrites) { this.aborted = true; for (const cb of this.abortCbs) cb(); }
      return !(pressureEvery && this.writes % pressureEvery === 0);
    },
    drain() { this.drains++; return new Promise((r) => setImmediate(r)); },
    end(chunk) { assert.ok(!this.ended, "end twice"); if (chunk) this.chunks.push(Buffer.from(chunk)); this.ended = true; },
    destroy() { this.destroyed = true; },
    get body() { return Buffer.concat(this.chunks); },
    header(name) { const h = this.headers.find(([n]) => n.toLowerCase() === name.toLowerCase()); return h && h[1]; },
  };
  return s;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-static-"));
const png = path.join(dir, "img.png");
fs.writeFileSync(png, "PNGDATA");
const old = new Date("2024-01-02T03:04:05.678Z");
fs.utimesSync(png, old, old);
const stat = fs.statSync(png, { bigint: true });
const NOW = Date.parse("2025-06-01T00:00:00Z");
const etag = `"7-${(stat.mtimeNs / 1000n).toString(16)}"`;
const LM = "Tue, 02 Jan 2024 03:04:05 GMT";
const req = (method, headers = []) => ({ method, headers: headers.flat() });
const serve = (r, opts = {}, sinkOpts = {}, file = png, st = stat) => {
  const sink = fakeSink(sinkOpts);
  return serveFile(r, file, st, sink, { now: NOW, ...opts }).then((status) => ({ sink, status }));
};

test("GET: body, validators and Apache's header order", async () => {
  const { sink } = await serve(req("GET"));
  assert.equal(sink.status, 200);
  assert.equal(sink.body.toString(), "PNGDATA");
  assert.deepEqual(sink.headers, [
    ["Last-Modified", LM], ["ETag", etag], ["Accept-Ranges", "bytes"],
    ["Content-Length", "7"], ["Content-Type", "image/png"],
  ]);
  assert.ok(sink.ended);
});

test("ETag is weak within a second of the mtime, and follows FileETag", () => {
  const mt = Number(stat.mtimeNs / 1000000n);
  assert.equal(makeETag(stat, mt + 500), "W/" + etag);
  assert.equal(makeETag(stat, mt + 1500), etag);
  assert.equal(makeETag(stat, NOW, { inode: true, size: true, mtime: true }),
    `"${stat.ino.toString(16)}-7-${(stat.mtimeNs / 1000n).toString(16)}"`);
  assert.equal(makeETag(stat, NOW, {}), undefined);
});

test("Range bytes=1-3 -> 206 NGD (conformance static-cohost)", async () => {
  const { sink } = await serve(req("GET", [["host", "example.test"], ["range", "bytes=1-3"]]));
  assert.equal(sink.status, 206);
  assert.equal(sink.reason, "Partial Content");
  assert.equal(sink.body.toString(), "NGD");
  assert.equal(sink.header("content-range"), "bytes 1-3/7");
  assert.equal(sink.header("content-length"), "3");
  assert.equal(sink.header("content-type"), "image/png");
});

test("HEAD -> headers only (conformance static-cohost)", async () => {
  const { sink } = await serve(req("HEAD"));
  assert.equal(sink.status, 200);
  assert.equal(sink.body.length, 0);
  assert.equal(sink.header("content-length"), "7");
  assert.equal(sink.header("content-type"), "image/png");
  assert.ok(sink.ended);
});

test("conditional GET: 304 and 412 as Apache", async () => {
  for (const h of [["if-none-match", etag], ["if-none-match", "W/" + etag], ["if-none-match", `"x", ${etag}`],
    ["if-none-match", "*"], ["if-modified-since", LM]]) {
    const { sink } = await serve(req("GET", [h]));
    assert.equal(sink.status, 304, h.join(": "));
    assert.deepEqual(sink.headers, [["Last-Modified", LM], ["ETag", etag], ["Accept-Ranges", "bytes"]]);
    assert.equal(sink.body.length, 0);
  }
  for (const h of [["if-none-match", '"other"'], ["if-modified-since", "Mon, 01 Jan 2024 00:00:00 GMT"],
    ["if-modified-since", "garbage"], ["if-match", etag], ["if-unmodified-since", LM]]) {
    const { sink } = await serve(req("GET", [h]));
    assert.equal(sink.status, 200, h.join(": "));
  }
  for (const h of [["if-match", '"zz"'], ["if-match", "W/" + etag], ["if-unmodified-since", "Mon, 01 Jan 2024 00:00:00 GMT"]]) {
    const { sink } = await serve(req("GET", [h]));
    assert.equal(sink.status, 412, h.join(": "));
    assert.equal(sink.header("content-length"), "0");
    assert.equal(sink.header("content-type"), "image/png");
    assert.equal(sink.body.length, 0);
  }
  // If-None-Match on a POST is a failed precondition, not a 304.
  assert.equal((await serve(req("POST", [["if-none-match", etag]]))).status, 412);
});

test("416 for an unsatisfiable range, with Content-Range: bytes */size", async () => {
  const { sink } = await serve(req("GET", [["range", "bytes=10-20"]]));
  assert.equal(sink.status, 416);
  assert.equal(sink.reason, "Requested Range Not Satisfiable");
  assert.equal(sink.header("content-range"), "bytes */7");
  assert.equal(sink.header("content-type"), "text/html; charset=iso-8859-1");
  assert.equal(sink.body.toString(), errorPage(416).html);
});

test("multiple ranges -> multipart/byteranges laid out as Apache's", async () => {
  const { sink } = await serve(req("GET", [["range", "bytes=0-0,2-3"]]));
  assert.equal(sink.status, 206);
  const m = /^multipart\/byteranges; boundary=([0-9a-f]{16})$/.exec(sink.header("content-type"));
  assert.ok(m, sink.header("content-type"));
  const b = m[1];
  const expected = `\r\n--${b}\r\nContent-type: image/png\r\nContent-range: bytes 0-0/7\r\n\r\nP` +
    `\r\n--${b}\r\nContent-type: image/png\r\nContent-range: bytes 2-3/7\r\n\r\nGD\r\n--${b}--\r\n`;
  assert.equal(sink.body.toString(), expected);
  assert.equal(sink.header("content-length"), String(Buffer.byteLength(expected)));
  assert.equal(expected.length, 181); // what Apache sent for this request
});

test("range parsing follows Apache: merges, drops, ignores bad syntax", async () => {
  const one = async (range) => (await serve(req("GET", [["range", range]]))).sink;
  let s = await one("bytes=0-1,1-3");
  assert.equal(s.header("content-range"), "bytes 0-3/7"); assert.equal(s.body.toString(), "PNGD");
  s = await one("bytes=0-1,20-30");
  assert.equal(s.header("content-range"), "bytes 0-1/7");
  s = await one("bytes=-2");
  assert.equal(s.header("content-range"), "bytes 5-6/7"); assert.equal(s.body.toString(), "TA");
  s = await one("bytes=5-100");
  assert.equal(s.header("content-range"), "bytes 5-6/7");
  for (const bad of ["bytes=abc", "bytes=3-1", "items=1-2", "bytes=0-1, 3-4", "bytes=-0"]) {
    s = await one(bad);
    assert.equal(s.status, 200, bad); assert.equal(s.body.toString(), "PNGDATA");
  }
  assert.deepEqual(evaluateRange("bytes=0-,2-3", 7), { kind: "partial", ranges: [{ start: 0, end: 6 }] });
  assert.deepEqual(evaluateRange("bytes=1-2", 0), { kind: "full" });
  assert.deepEqual(evaluateRange("bytes=9-,20-", 7), { kind: "unsatisfiable" });
});

test("If-Range: only an exact strong ETag (or an old enough date) keeps the range", async () => {
  const r = (ifRange, now = NOW) => serve(req("GET", [["range", "bytes=1-2"], ["if-range", ifRange]]), { now });
  assert.equal((await r(etag)).sink.status, 206);
  assert.equal((await r('"no"')).sink.status, 200);
  assert.equal((await r(LM)).sink.status, 206);
  const fresh = Number(stat.mtimeNs / 1000000n) + 30_000; // Last-Modified only 30 s old: weak
  assert.equal((await r(LM, fresh)).sink.status, 200);
});

test("methods: POST serves, OPTIONS 200, PUT 405, unknown 501", async () => {
  let { sink } = await serve(req("POST"));
  assert.equal(sink.status, 200); assert.equal(sink.body.toString(), "PNGDATA");
  ({ sink } = await serve(req("OPTIONS")));
  assert.equal(sink.status, 200); assert.equal(sink.header("allow"), "GET,POST,OPTIONS,HEAD,TRACE");
  ({ sink } = await serve(req("PUT")));
  assert.equal(sink.status, 405); assert.equal(sink.header("allow"), "GET,POST,OPTIONS,HEAD,TRACE");
  assert.equal(sink.body.toString(), errorPage(405, { method: "PUT" }).html);
  assert.equal(sink.body.length, 260); // Apache's Content-Length for this page
  ({ sink } = await serve(req("FOO")));
  assert.equal(sink.status, 501); assert.equal(sink.body.length, 242);
});

test("refuses directories (404) and non-regular files (403)", async () => {
  let { sink } = await serve(req("GET"), {}, {}, dir, fs.statSync(dir));
  assert.equal(sink.status, 404);
  ({ sink } = await serve(req("GET"), {}, {}, "/dev/null", fs.statSync("/dev/null")));
  assert.equal(sink.status, 403);
});

test("no MIME type -> no Content-Type header", async () => {
  const f = path.join(dir, "noext");
  fs.writeFileSync(f, "x");
  const { sink } = await serve(req("GET"), {}, {}, f, fs.statSync(f, { bigint: true }));
  assert.equal(sink.status, 200);
  assert.equal(sink.header("content-type"), undefined);
});

test("large file streams in chunks with backpressure, byte for byte", async () => {
  const f = path.join(dir, "big.bin");
  const data = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
  fs.writeFileSync(f, data);
  const { sink } = await serve(req("GET"), { chunkSize: 64 * 1024 }, { pressureEvery: 3 }, f, fs.statSync(f, { bigint: true }));
  assert.equal(sink.status, 200);
  assert.ok(sink.writes >= 48, `writes ${sink.writes}`);
  assert.ok(sink.drains >= 16, `drains ${sink.drains}`);
  assert.ok(sink.chunks.every((c) => c.length <= 64 * 1024));
  assert.ok(sink.body.equals(data));
  const r = await serve(req("GET", [["range", "bytes=1000000-1200000"]]), {}, {}, f, fs.statSync(f, { bigint: true }));
  assert.ok(r.sink.body.equals(data.subarray(1000000, 1200001)));
});

test("a client abort stops the stream and closes the file", async () => {
  const f = path.join(dir, "abort.bin");
  fs.writeFileSync(f, Buffer.alloc(2 * 1024 * 1024, 1));
  const fds = () => fs.readdirSync("/proc/self/fd").length;
  const before = fds();
  const { sink } = await serve(req("GET"), { chunkSize: 16 * 1024 }, { abortAfterWrites: 3, pressureEvery: 1 }, f, fs.statSync(f));
  assert.equal(sink.writes, 3);
  assert.ok(!sink.ended);
  // serveFile resolves once the file is closed: no wait, whatever the machine's load.
  assert.equal(fds(), before);
});

test("the head of the server's own pages is in httpd's order: extra headers, length, Connection, type (one function for every page)", () => {
  const { errorPageHead } = require("../dist/static/error-page");
  const type = ["Content-Type", "text/html; charset=iso-8859-1"];
  // As httpd 2.4.71 sent them (a 405 asked with Connection: close, a 400 refusal, a HEAD 500).
  assert.deepEqual(errorPageHead(405, [["Allow", "GET"]], 263), [["Allow", "GET"], ["Content-Length", "263"], type]);
  assert.deepEqual(errorPageHead(400, [], 266, true), [["Content-Length", "266"], ["Connection", "close"], type]);
  assert.deepEqual(errorPageHead(500, [], null), [["Connection", "close"], type]);
  // A 413's own Connection (refusalHeaders) is kept where it is; a refusal closes whatever the status.
  assert.deepEqual(errorPageHead(413, [["Connection", "close"]], 10), [["Connection", "close"], ["Content-Length", "10"], type]);
  assert.deepEqual(errorPageHead(413, [], 10), [["Content-Length", "10"], type]);
  assert.deepEqual(errorPageHead(404, [], null, true), [["Connection", "close"], type]);
});

test("error pages are Apache's, byte for byte", () => {
  const p404 = errorPage(404);
  assert.equal(p404.reason, "Not Found");
  assert.equal(p404.html,
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n' +
    "<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n" +
    "<p>The requested URL was not found on this server.</p>\n</body></html>\n");
  // Content-Length values observed from Apache 2.4.71 for these pages.
  assert.equal(p404.html.length, 236);
  assert.equal(errorPage(401).html.length, 421);
  assert.equal(errorPage(500).html.length, 571);
  assert.equal(errorPage(405, { method: "DELETE" }).html.length, 263);
  assert.equal(errorPage(405, { method: "<x>" }).html.includes("method &lt;x&gt; is"), true);
  for (const s of [400, 401, 403, 404, 405, 411, 412, 413, 414, 416, 500, 501, 502, 503, 504]) {
    const p = errorPage(s);
    assert.ok(p.html.includes(`<title>${s} ${p.reason}</title>`), String(s));
  }
  assert.equal(errorPage(413).reason, "Request Entity Too Large");
  assert.equal(errorPage(414).reason, "Request-URI Too Long");
});

test("MIME table: /etc/mime.types, built-in fallback, AddType, every extension", () => {
  const sys = MimeTable.load();
  const builtin = MimeTable.load({ typesConfig: path.join(dir, "missing.types") });
  for (const t of [sys, builtin]) {
    assert.equal(t.lookup("/x/favicon.ico"), "image/vnd.microsoft.icon");
    assert.equal(t.lookup("a.js"), "text/javascript");
    assert.equal(t.lookup("robots.txt"), "text/plain");
    assert.equal(t.lookup("site.CSS"), "text/css");
    assert.equal(t.lookup("noext"), undefined);
    assert.equal(t.lookup("png"), undefined); // the part before the first dot is never an extension
    assert.equal(t.lookup("page.html.en"), "text/html");
  }
  const custom = MimeTable.load({ typesConfig: null, addTypes: { ".wsgi": "text/x-python", txt: "text/x-custom" } });
  assert.equal(custom.lookup("a.wsgi"), "text/x-python");
  assert.equal(custom.lookup("a.txt"), "text/x-custom");
  assert.equal(custom.lookup("a.txt.png"), "image/png");
});

test("directory listing matches mod_autoindex's plain list", async () => {
  const d = path.join(dir, "idx");
  fs.mkdirSync(path.join(d, "sub"), { recursive: true });
  for (const n of ["a&b <c>.txt", "z.txt", "B.txt"]) fs.writeFileSync(path.join(d, n), "x");
  const sink = fakeSink();
  assert.equal(await serveDirectoryListing({ method: "GET" }, d, "/idx/", sink), 200);
  assert.equal(sink.header("content-type"), "text/html;charset=ISO-8859-1");
  // Recorded from Apache 2.4.71 with `Options Indexes` on the same tree.
  assert.equal(sink.body.toString(),
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n' +
    "<html>\n <head>\n  <title>Index of /idx</title>\n </head>\n <body>\n<h1>Index of /idx</h1>\n" +
    '<ul><li><a href="/"> Parent Directory</a></li>\n' +
    '<li><a href="B.txt"> B.txt</a></li>\n' +
    '<li><a href="a&amp;b%20%3cc%3e.txt"> a&amp;b &lt;c&gt;.txt</a></li>\n' +
    '<li><a href="sub/"> sub/</a></li>\n' +
    '<li><a href="z.txt"> z.txt</a></li>\n' +
    "</ul>\n</body></html>\n");
  assert.equal(sink.header("content-length"), "419");
});

test("HTTP-dates: the three formats of RFC 9110 only, as apr_date_parse_http reads them", () => {
  const { parseHttpDateSeconds } = require("../dist/static/conditional");
  const t = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
  for (const ok of ["Tue, 02 Jan 2024 03:04:05 GMT", "Tuesday, 02-Jan-24 03:04:05 GMT", "Tue Jan  2 03:04:05 2024", "Tue, 02 Jan 2024 03:04:05 GMT; length=100"]) {
    assert.equal(parseHttpDateSeconds(ok), t, ok);
  }
  for (const bad of [
    "2024-01-02T03:04:05Z", "2024-01-02", "Tue, 02 Jan 2024 03:04:05", "Tue, 02 Jan 2024 03:04:05 EST",
    "Tue, 02 Jan 2024 04:04:05 +0100", "02 Jan 2024 03:04:05 GMT", "Tue, 02 jan 2024 03:04:05 GMT",
    "Tuesday, 02-Jan-2024", "Fri, 30 Feb 2024 03:04:05 GMT", "Jan 3 2024", "", "garbage",
  ]) {
    assert.equal(parseHttpDateSeconds(bad), 0, bad);
  }
});
