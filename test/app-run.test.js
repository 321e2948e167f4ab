"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { runApplication, internalErrorPage } = require("../dist/app/run");
const { recordingSink: fakeSink } = require("./helpers/sinks");

function fakeLog() {
  const lines = [];
  return { lines, log: (level, mod, msg) => lines.push(`${level} ${mod} ${msg}`), close() {} };
}
const opts = (log, extra = {}) => ({ method: "GET", log, scriptFilename: "/srv/app.wsgi", ...extra });
const ok = (s, h = [["Content-Type", "text/plain"]]) => s("200 OK", h);

test("hello world: list result gets a Content-Length and goes out with end()", async () => {
  const sink = fakeSink();
  await runApplication((e, s) => (ok(s), [Buffer.from("Hello "), "World!"]), {}, sink, opts(fakeLog()));
  assert.deepEqual(sink.head, { status: 200, reason: "OK", headers: [["Content-Type", "text/plain"], ["Content-Length", "12"]] });
  assert.equal(sink.text, "Hello World!");
  assert.ok(sink.ended && !sink.destroyed);
});

test("generator, async generator and Promise results; close() is called once", async () => {
  for (const make of [
    (closed) => {
      const g = (function* () {
        yield "a";
        yield new Uint8Array([98]);
      })();
      g.close = () => closed.push("sync");
      return g;
    },
    (closed) => {
      const g = (async function* () {
        yield "a";
        await new Promise((r) => setTimeout(r, 1));
        yield "b";
      })();
      g.close = () => closed.push("async");
      return g;
    },
    (closed) => Promise.resolve({ [Symbol.iterator]: () => ["a", "b"][Symbol.iterator](), close: () => closed.push("promise") }),
  ]) {
    const closed = [];
    const sink = fakeSink();
    await runApplication((e, s) => (ok(s), make(closed)), {}, sink, opts(fakeLog()));
    assert.equal(sink.text, "ab");
    assert.equal(closed.length, 1);
    assert.ok(!sink.head.headers.some(([n]) => n === "Content-Length"), "streamed: no computed length");
  }
});

test("headers wait for the first non-empty chunk, so exc_info can replace them", async () => {
  const sink = fakeSink();
  const log = fakeLog();
  await runApplication(
    function* (e, s) {
      ok(s);
      yield "";
      try {
        throw new Error("late");
      } catch (err) {
        s("503 Service Unavailable", [["Content-Type", "text/html"]], err);
      }
      yield "<p>sorry</p>";
    },
    {},
    sink,
    opts(log),
  );
  assert.equal(sink.head.status, 503);
  assert.equal(sink.text, "<p>sorry</p>");
});

test("start_response may be called again until the headers are sent (mod_wsgi); the last call wins", async () => {
  const sink = fakeSink();
  const log = fakeLog();
  await runApplication((e, s) => (ok(s), s("202 Accepted", [["X-Second", "1"]]), ["body"]), {}, sink, opts(log));
  assert.deepEqual(sink.head, { status: 202, reason: "Accepted", headers: [["X-Second", "1"], ["Content-Length", "4"]] });
  assert.equal(sink.text, "body");
  assert.deepEqual(log.lines, []);
});

test("start_response after the headers went out: 'headers have already been sent', the response is cut short", async () => {
  const sink = fakeSink();
  const log = fakeLog();
  await runApplication(
    function* (e, s) {
      ok(s);
      yield "first";
      s("500 Oops", []);
    },
    {},
    sink,
    opts(log),
  );
  assert.equal(sink.head.status, 200);
  assert.equal(sink.text, "first");
  assert.ok(sink.destroyed && !sink.ended);
  assert.ok(log.lines.some((l) => /Error: headers have already been sent/.test(l)), log.lines.join("\n"));
});

test("hop-by-hop headers: Keep-Alive and Transfer-Encoding are the server's (dropped), Connection goes to the front end", async () => {
  const sink = fakeSink();
  const log = fakeLog();
  const headers = [["Connection", "close"], ["Keep-Alive", "timeout=5"], ["Transfer-Encoding", "chunked"], ["X-A", "1"]];
  await runApplication((e, s) => (s("200 OK", headers), ["hi"]), {}, sink, opts(log));
  assert.deepEqual(sink.head.headers, [["Connection", "close"], ["X-A", "1"], ["Content-Length", "2"]]);
  assert.equal(sink.text, "hi");
  assert.deepEqual(log.lines, []);
});

test("204 and 304: no body and no Content-Length or Content-Type, whatever the application returns (as httpd)", async () => {
  for (const [status, result] of [["204 No Content", ["hello body"]], ["304 Not Modified", ["hello body"]], ["204 No Content", (function* () { yield "a"; yield "b"; })()]]) {
    const sink = fakeSink();
    const log = fakeLog();
    const headers = [["Content-Type", "text/plain"], ["Content-Length", "10"], ["ETag", '"x"']];
    await runApplication((e, s) => (s(status, headers), result), {}, sink, opts(log));
    assert.deepEqual(sink.head.headers, [["ETag", '"x"']], status);
    assert.equal(sink.text, "", status);
    assert.ok(sink.ended && !sink.destroyed, status);
    assert.deepEqual(log.lines, [], status);
  }
});

test("start_response rules: bad status, bad header name or value", async () => {
  const cases = [
    [(e, s) => (s("200", []), []), /no space following status code/],
    [(e, s) => (s("2000 OK", []), []), /3 digit/],
    [(e, s) => (s("099 Weird", []), []), /status code 099 is below 100/],
    [(e, s) => (s("000 Zero", []), []), /status code 000 is below 100/],
    [(e, s) => (s(200, []), []), /expected string object for status line/],
    [(e, s) => (s("200 OK", [["X-A", "a\r\nX-B: b"]]), []), /header value/],
    [(e, s) => (s("200 OK", [["Bad Name", "v"]]), []), /header name/],
    [(e, s) => (s("200 OK", { "X-A": "b" }), []), /must be a list/],
    [(e, s) => (s("200 OK", [["Content-Length", "12x"]]), []), /invalid Content-Length/],
    [() => ["no start_response"], /start_response\(\) must be called before/],
    [() => [], /start_response\(\) must be called before/],
    [(e, s) => (ok(s), [42]), /must be bytes or string, not number/],
    [(e, s) => (ok(s), null), /must be an iterable/],
  ];
  for (const [app, re] of cases) {
    const sink = fakeSink();
    const log = fakeLog();
    await runApplication(app, { SCRIPT_FILENAME: "/srv/x.wsgi" }, sink, { method: "GET", log });
    assert.equal(sink.head.status, 500, String(re));
    assert.equal(sink.text, internalErrorPage().toString());
    assert.match(log.lines[0], /^error wsgi mod_wsgi \(pid=\d+\): Exception occurred processing WSGI script '\/srv\/x\.wsgi'\.$/);
    assert.ok(log.lines.some((l) => re.test(l)), `${re} in ${log.lines.join("\n")}`);
  }
});

test("an exception before headers gives Apache's 500 page and a logged stack", async () => {
  const sink = fakeSink();
  const log = fakeLog();
  await runApplication(
    function brokenApp() {
      throw new TypeError("nope");
    },
    { SERVER_ADMIN: "admin@example.test" },
    sink,
    opts(log, { logPrefix: "[client 1.2.3.4:5] " }),
  );
  assert.equal(sink.head.status, 500);
  // The head of httpd's own 500 page, in its order (errorPageHead).
  assert.deepEqual(sink.head.headers, [["Content-Length", String(Buffer.byteLength(sink.text, "latin1"))], ["Connection", "close"], ["Content-Type", "text/html; charset=iso-8859-1"]]);
  assert.match(sink.text, /<title>500 Internal Server Error<\/title>/);
  assert.match(sink.text, /admin@example\.test/);
  assert.equal(log.lines[0], `error wsgi [client 1.2.3.4:5] mod_wsgi (pid=${process.pid}): Exception occurred processing WSGI script '/srv/app.wsgi'.`);
  assert.equal(log.lines[1], "error wsgi [client 1.2.3.4:5] TypeError: nope");
  assert.match(log.lines[2], /at brokenApp/);
});

test("an exception after headers drops the connection; close() still runs", async () => {
  const sink = fakeSink();
  const log = fakeLog();
  let closed = 0;
  const it = (function* () {
    yield "partial";
    throw new Error("mid-body");
  })();
  it.close = () => closed++;
  await runApplication((e, s) => (ok(s), it), {}, sink, opts(log));
  assert.equal(sink.head.status, 200);
  assert.equal(sink.text, "partial");
  assert.ok(sink.destroyed && !sink.ended);
  assert.equal(closed, 1);
  assert.ok(log.lines.some((l) => /mid-body/.test(l)));
});

test("Content-Length: short body is logged and the connection destroyed; extra bytes are cut", async () => {
  let sink = fakeSink();
  let log = fakeLog();
  await runApplication(
    function* (e, s) {
      s("200 OK", [["Content-Length", "10"]]);
      yield "12345";
    },
    {},
    sink,
    opts(log),
  );
  assert.ok(sink.destroyed && !sink.ended);
  assert.ok(log.lines.some((l) => /Content length mismatch, expected 10, response generated 5/.test(l)));

  sink = fakeSink();
  log = fakeLog();
  await runApplication(
    function* (e, s) {
      s("200 OK", [["Content-Length", "3"]]);
      yield "12";
      yield "345";
    },
    {},
    sink,
    opts(log),
  );
  assert.equal(sink.text, "123");
  assert.ok(sink.ended && !sink.destroyed);
});

test("HEAD runs the application and sends headers only", async () => {
  const sink = fakeSink();
  let ran = false;
  await runApplication(
    (e, s) => {
      ran = true;
      s("200 OK", [["Content-Length", "5"]]);
      return ["hello"];
    },
    {},
    sink,
    opts(fakeLog(), { method: "HEAD" }),
  );
  assert.ok(ran && sink.ended && !sink.destroyed);
  assert.equal(sink.text, "");
  assert.deepEqual(sink.head.headers, [["Content-Length", "5"]]);
});

test("write() callable sends immediately and in order with the iterable", async () => {
  const sink = fakeSink();
  await runApplication(
    (e, s) => {
      const write = s("200 OK", []);
      write("one,");
      write(Buffer.from("two,"));
      return ["three"];
    },
    {},
    sink,
    opts(fakeLog()),
  );
  assert.equal(sink.text, "one,two,three");
  assert.ok(!sink.head.headers.length, "no computed length once write() was used");
});

test("backpressure: waits for drain before the next chunk", async () => {
  const sink = fakeSink({ writable: false });
  let produced = 0;
  const app = function* (e, s) {
    ok(s);
    for (let i = 0; i < 3; i++) {
      produced++;
      yield `c${i}`;
    }
  };
  const done = runApplication(app, {}, sink, opts(fakeLog()));
  await new Promise((r) => setImmediate(r));
  assert.equal(produced, 1, "second chunk not pulled before drain");
  assert.equal(sink.drains, 1);
  sink.drainResolvers.shift()();
  await new Promise((r) => setImmediate(r));
  assert.equal(produced, 2);
  sink.writable = true;
  sink.drainResolvers.shift()();
  await done;
  assert.equal(sink.text, "c0c1c2");
  assert.ok(sink.ended);
});

test("client abort: iteration stops, close() is called at once, nothing more is written", async () => {
  const sink = fakeSink();
  const events = [];
  let release;
  const it = (async function* () {
    try {
      yield "first";
      await new Promise((r) => (release = r));
      yield "never";
    } finally {
      events.push("finally");
    }
  })();
  it.close = () => events.push("close");
  const done = runApplication((e, s) => (ok(s), it), {}, sink, opts(fakeLog()));
  await new Promise((r) => setTimeout(r, 5));
  sink.abort();
  assert.deepEqual(events, ["close"]);
  await done;
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(sink.text, "first");
  assert.ok(!sink.ended);
  assert.ok(events.includes("finally"));
  assert.equal(events.filter((e) => e === "close").length, 1);
});

test("client abort while waiting for drain ends the run", async () => {
  const sink = fakeSink({ writable: false });
  let closed = 0;
  const it = ["a", "b", "c"][Symbol.iterator]();
  const res = { [Symbol.iterator]: () => it, close: () => closed++ };
  const done = runApplication((e, s) => (ok(s), res), {}, sink, opts(fakeLog()));
  await new Promise((r) => setImmediate(r));
  sink.abort();
  await done;
  assert.equal(closed, 1);
  assert.equal(sink.text, "a");
});

test("wsgi.errors is flushed at the end of the request", async () => {
  let flushed = 0;
  await runApplication((e, s) => (ok(s), []), { "wsgi.errors": { flush: () => flushed++ } }, fakeSink(), opts(fakeLog()));
  assert.equal(flushed, 1);
});
