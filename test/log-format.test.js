"use strict";
// Access log format compilation (each mod_log_config directive), request ids, the error log's
// line shape and levels, buffered log files and line splitting. Server-level behaviour is in
// test/log-server.test.js.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { compileLogFormat, compileJsonFormat, escapeLogItem, clfTime, strftime, PREDEFINED_FORMATS } = require("../dist/log/log-format");
const { nextRequestId, requestIdOf, requestLogPrefix } = require("../dist/log/request-id");
const { ApacheErrorLog, logFrom } = require("../dist/log/apache-error-log");
const { BufferedLogFile, openLogTarget } = require("../dist/log/log-file");
const { LineSplitter } = require("../dist/log/console-redirect");

const START = new Date(2026, 0, 2, 3, 4, 5, 678).getTime();

function subject(allOver = {}) {
  const { req: _req, ...over } = allOver;
  const req = {
    method: "GET", target: "/a%20b/c?x=1&y=%22", protocol: "HTTP/1.1",
    headers: ["host", "example.org:8080", "user-agent", "curl/8", "referer", "http://r/", "cookie", "a=1; sid=xyz"],
    remoteAddress: "10.0.0.1", remotePort: 5555, localAddress: "127.0.0.1", localPort: 8080, scheme: "http",
    body: { declaredLength: 7, chunked: false },
    ..._req,
  };
  const env = { FOO: "bar" };
  const resHeaders = { "content-type": "text/plain" };
  return {
    req, status: 200, bodyBytes: 1234, headerBytes: 100, aborted: false, startMs: START + 0.25,
    durationUs: 2_345_678, requestId: "AbCdEfGhIjK", logId: "AbCdEfGhIjK", user: "alice", filename: "/srv/app.wsgi", handler: "wsgi-script",
    serverName: "www.example.org", hostName: "example.org", serverPort: "8080", keepAlive: true,
    responseHeader: (n) => resHeaders[n.toLowerCase()],
    env: (n) => env[n],
    note: (n) => (n === "mynote" ? "noted" : undefined),
    ...over,
  };
}

const fmt = (f, over) => compileLogFormat(f)(subject(over));

describe("log formats: directives", () => {
  const cases = [
    ["%h %a %{c}a %A", "10.0.0.1 10.0.0.1 10.0.0.1 127.0.0.1"],
    ["%l %u", "- alice"],
    ["%u", '""', { user: "" }],
    ["%u", "-", { user: undefined }],
    ["%B %b", "1234 1234"],
    ["%O %I", `1334 ${"GET".length + "/a%20b/c?x=1&y=%22".length + "HTTP/1.1".length + 4 + (4 + 16 + 4) + (10 + 6 + 4) + (7 + 9 + 4) + (6 + 12 + 4) + 2 + 7}`],
    ["%D %T %{ms}T %{us}T %{s}T", "2345678 2 2345 2345678 2"],
    ["%{FOO}e|%{NOPE}e", "bar|-"],
    ["%f %R", "/srv/app.wsgi wsgi-script"],
    ["%H %m", "HTTP/1.1 GET"],
    ["%{User-Agent}i %{referer}i %{X-None}i", "curl/8 http://r/ -"],
    ["%{Content-Type}o %{X-None}o", "text/plain -"],
    ["%{sid}C %{none}C", "xyz -"],
    ["%{mynote}n", "noted"],
    ["%k %n %{x}n %^ti", "0 - - -"],
    ["%L", "AbCdEfGhIjK"],
    ["%p %{canonical}p %{local}p %{remote}p", "8080 8080 8080 5555"],
    ["%P %{pid}P", `${process.pid} ${process.pid}`],
    ["%q", "?x=1&y=%22"],
    ["%r", "GET /a%20b/c?x=1&y=%22 HTTP/1.1"],
    ["%s %>s %<s", "200 200 200"],
    ["%S", null],
    ["%U", "/a b/c"],
    ["%v %V", "www.example.org example.org"],
    ["%X", "+"],
    ["100%% sure\\t\\n", "100% sure\t\n"],
  ];
  for (const [f, want, over] of cases) {
    it(over ? `${f} (${JSON.stringify(over)})` : f, () => {
      const got = fmt(f, over);
      if (want === null) assert.match(got, /^\d+$/);
      else assert.equal(got, want);
    });
  }

  it("%b is - for an empty body, %X is X when aborted and - without keep-alive", () => {
    assert.equal(fmt("%b %B", { bodyBytes: 0 }), "- 0");
    assert.equal(fmt("%X", { aborted: true }), "X");
    assert.equal(fmt("%X", { keepAlive: false }), "-");
    assert.equal(fmt("%q", { req: { target: "/p" } }), "");
  });

  it("status conditions: %400,501{..}i and %!200{..}i", () => {
    assert.equal(fmt("%400,501{User-Agent}i"), "-");
    assert.equal(fmt("%400,501{User-Agent}i", { status: 501 }), "curl/8");
    assert.equal(fmt("%!200,304{Referer}i"), "-");
    assert.equal(fmt("%!200,304{Referer}i", { status: 404 }), "http://r/");
  });

  it("%t is the CLF time of the request's start; %{..}t strftime and the sec/msec/usec forms", () => {
    const d = new Date(START);
    const off = -d.getTimezoneOffset();
    const tz = (off < 0 ? "-" : "+") + String(Math.floor(Math.abs(off) / 60)).padStart(2, "0") + String(Math.abs(off) % 60).padStart(2, "0");
    assert.equal(fmt("%t"), `[02/Jan/2026:03:04:05 ${tz}]`);
    assert.equal(clfTime(START), `[02/Jan/2026:03:04:05 ${tz}]`);
    assert.equal(fmt("%{%Y-%m-%d %H:%M:%S}t"), "2026-01-02 03:04:05");
    assert.equal(fmt("%{begin:%d/%b/%Y}t"), "02/Jan/2026");
    assert.equal(fmt("%{sec}t"), String(Math.floor(START / 1000)));
    assert.equal(fmt("%{msec}t"), String(START));
    assert.equal(fmt("%{usec}t"), String(START * 1000 + 250));
    assert.equal(fmt("%{msec_frac}t"), "678");
    assert.equal(fmt("%{usec_frac}t"), "678250");
    assert.equal(fmt("%{end:sec}t"), String(Math.floor((START + 2345.678) / 1000)));
    assert.equal(strftime("%a %A %B %j %y %I%p %%", d), "Fri Friday January 002 26 03AM %");
  });

  it("request strings are escaped as ap_escape_logitem does", () => {
    assert.equal(escapeLogItem('a"b\\c\nd\x01'), 'a\\"b\\\\c\\nd\\x01');
    // Logged strings are byte strings: UTF-8 "é" arrives as "\u00c3\u00a9" and is logged as its
    // two bytes, as httpd logs them; "\u00e9" is the one byte E9. Text beyond latin-1 is UTF-8.
    assert.equal(escapeLogItem("caf\u00c3\u00a9 caf\u00e9"), "caf\\xc3\\xa9 caf\\xe9");
    assert.equal(escapeLogItem("\u20ac \u{1f600}"), "\\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80");
    assert.equal(fmt('"%r"', { req: { target: '/"x"' } }), '"GET /\\"x\\" HTTP/1.1"');
    // %U is the decoded path's bytes, as httpd's r->uri.
    assert.equal(fmt("%U", { req: { target: "/caf%C3%A9?q=1" } }), "/caf\\xc3\\xa9");
    assert.equal(fmt("%{User-Agent}i", { req: { headers: ["user-agent", "evil\nline"] } }), "evil\\nline");
  });

  it("unknown directives and unterminated arguments are config errors", () => {
    assert.throws(() => compileLogFormat("%Z"), { code: "E_LOG_FORMAT", message: /unrecognized directive %Z/ });
    assert.throws(() => compileLogFormat("%{foo"), { code: "E_LOG_FORMAT" });
    assert.throws(() => compileLogFormat("abc %"), { code: "E_LOG_FORMAT" });
    assert.throws(() => compileLogFormat("%{bogus}T"), { code: "E_LOG_FORMAT" });
  });

  it("the predefined nicknames are Debian's", () => {
    assert.equal(PREDEFINED_FORMATS.combined, '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"');
    assert.equal(PREDEFINED_FORMATS.common, '%h %l %u %t "%r" %>s %O');
    const line = compileLogFormat(PREDEFINED_FORMATS.combined)(subject());
    assert.match(line, /^10\.0\.0\.1 - alice \[.+\] "GET \/a%20b\/c\?x=1&y=%22 HTTP\/1\.1" 200 1334 "http:\/\/r\/" "curl\/8"$/);
  });

  it("json: one object with combined's fields, the duration and the request id", () => {
    const o = JSON.parse(compileJsonFormat()(subject()));
    assert.equal(o.time, new Date(START).toISOString());
    assert.equal(o.remote_addr, "10.0.0.1");
    assert.equal(o.remote_user, "alice");
    assert.equal(o.request, "GET /a%20b/c?x=1&y=%22 HTTP/1.1");
    assert.equal(o.path, "/a%20b/c");
    assert.equal(o.query, "x=1&y=%22");
    assert.equal(o.status, 200);
    assert.equal(o.bytes, 1234);
    assert.equal(o.referer, "http://r/");
    assert.equal(o.user_agent, "curl/8");
    assert.equal(o.duration_us, 2345678);
    assert.equal(o.request_id, "AbCdEfGhIjK");
    assert.equal(o.vhost, "www.example.org");
    assert.equal(JSON.parse(compileJsonFormat()(subject({ user: undefined, req: { headers: [] } }))).referer, null);
    // The request's bytes (one character each) are given as the text they spell.
    const na = JSON.parse(compileJsonFormat()(subject({ user: "jos\u00c3\u00a9", req: { target: "/caf\u00c3\u00a9?q=\u00c3\u00a9", headers: ["referer", "http://r/\u00c3\u00a9"] } })));
    assert.deepEqual([na.remote_user, na.path, na.query, na.referer], ["jos\u00e9", "/caf\u00e9", "q=\u00e9", "http://r/\u00e9"]);
  });
});

describe("request ids", () => {
  it("are 11 base64 characters, distinct, and stable per request", () => {
    const ids = new Set();
    for (let i = 0; i < 1000; i++) ids.add(nextRequestId());
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9+/]{11}$/);
    const req = { remoteAddress: "1.2.3.4", remotePort: 9 };
    const id = requestIdOf(req);
    assert.equal(requestIdOf(req), id);
    assert.equal(requestLogPrefix(req), `[client 1.2.3.4:9] [R:${id}] `);
    assert.deepEqual(Object.keys(req), ["remoteAddress", "remotePort"], "the id is not an enumerable key");
  });

  it("are the base64 of a fixed random prefix and a counter, also across the counter's 16-bit boundary", () => {
    const decode = (id) => Buffer.from(id + "=", "base64");
    const first = decode(nextRequestId());
    let last = first.readUInt32BE(4);
    for (let i = 0; i < 70_000; i++) {
      const id = nextRequestId();
      const b = decode(id);
      assert.equal(b.toString("base64").slice(0, 11), id);
      assert.ok(b.subarray(0, 4).equals(first.subarray(0, 4)), "same prefix");
      assert.equal(b.readUInt32BE(4), last + 1, `counter after ${last}`);
      last = b.readUInt32BE(4);
    }
  });
});

describe("error log", () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-log-"));

  it("writes Apache's line shape with levels, per-module levels and always notice", () => {
    const file = path.join(tmp(), "error.log");
    const log = new ApacheErrorLog(file, { level: "warn", moduleLevels: new Map([["mod_wsgi", "info"]]) });
    log.log("info", "core", "hidden core info");
    log.log("info", "wsgi", "shown wsgi info");
    log.log("debug", "wsgi", "hidden wsgi debug");
    log.log("notice", "core", "notice always");
    log.log("error", "core", "two\nlines");
    log.close();
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 4);
    assert.match(lines[0], /^\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4}\] \[wsgi:info\] \[pid \d+\] shown wsgi info$/);
    assert.match(lines[1], /\[core:notice\] \[pid \d+\] notice always$/);
    assert.match(lines[2], /\[core:error\] \[pid \d+\] two$/);
    assert.match(lines[3], /\[core:error\] \[pid \d+\] lines$/);
  });

  it("lines on behalf of a thread or daemon child carry its pid, tid and process group", () => {
    const file = path.join(tmp(), "error.log");
    const log = new ApacheErrorLog(file, { level: "info" });
    log.logFrom({ pid: 4242, tid: 3, process: "daemon-a" }, "error", "wsgi", "hello");
    log.logFrom({ tid: 7 }, "error", "wsgi", "from a worker");
    log.close();
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    assert.match(lines[0], /\[wsgi:error\] \[pid 4242:tid 3\] \[process daemon-a\] hello$/);
    assert.match(lines[1], new RegExp(`\\[wsgi:error\\] \\[pid ${process.pid}:tid 7\\] from a worker$`));
    // Any other ErrorLog gets the origin folded into the message.
    const got = [];
    logFrom({ log: (l, m, msg) => got.push(msg), close() {} }, { pid: 1, process: "g" }, "error", "wsgi", "x");
    assert.deepEqual(got, ["[pid 1] [process g] x"]);
  });

  it("syslog is refused with advice; |command pipes lines into a command", async () => {
    assert.throws(() => new ApacheErrorLog("syslog:local7"), { code: "E_LOG_TARGET", message: /logger/ });
    const out = path.join(tmp(), "piped.log");
    const log = new ApacheErrorLog(`|cat >> ${out}`, { level: "info" });
    log.log("error", "core", "through a pipe");
    await log.closeAsync();
    assert.match(fs.readFileSync(out, "utf8"), /\[core:error\] \[pid \d+\] through a pipe\n$/);
  });
});

describe("buffered log files", () => {
  it("keep order across many writes, batch them, and survive reopen after a rename", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-log-"));
    const file = path.join(dir, "access.log");
    const f = new BufferedLogFile(file);
    for (let i = 0; i < 5000; i++) f.write(`line ${i}\n`);
    assert.equal(fs.readFileSync(file, "utf8").split("\n").length < 5000, true, "not one synchronous write per line");
    await new Promise((r) => setTimeout(r, 50));
    fs.renameSync(file, file + ".1");
    f.write("before reopen\n");
    f.reopen();
    f.write("after reopen\n");
    await f.close();
    const rotated = fs.readFileSync(file + ".1", "utf8").split("\n");
    assert.equal(rotated[0], "line 0");
    assert.equal(rotated[4999], "line 4999");
    const fresh = fs.readFileSync(file, "utf8");
    assert.ok(fresh.endsWith("after reopen\n"));
    assert.equal((rotated.join("\n") + fresh).split("before reopen").length, 2);
    f.write("after close\n");
    assert.ok(!fs.readFileSync(file, "utf8").includes("after close"));
  });

  it("openLogTarget reports a file it cannot open", () => {
    assert.throws(() => openLogTarget("/nonexistent-dir/x/access.log", true), { code: "E_LOG_TARGET" });
  });
});

describe("line splitting for application output", () => {
  it("emits complete lines, strips CR, and flushes a partial line later", async () => {
    const got = [];
    const s = new LineSplitter((l) => got.push(l));
    s.write("a\r\nb");
    s.write("c\nd");
    assert.deepEqual(got, ["a", "bc"]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ["a", "bc", "d"]);
  });
});
