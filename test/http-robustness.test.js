"use strict";
// Bad and hostile input, as raw bytes on real sockets, against both front ends of a real
// in-process server (hello app, body-echo app, async app, static files). Each case says what
// the node:http front end and the uWS front end must do; where uWS's own parser decides and
// cannot be changed, the case asserts the documented behaviour (docs/front-ends.md).
//
// Outcomes:
//   { status, close }  a response with that status; `close`: the server then closes
//   "dropped"          the connection is closed at once with no response (uWS parser errors)
//   "ignored"          no response and no close within IGNORE_MS (uWS parser errors that
//                      leave the connection to its ~10 s idle timeout)
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { makeSite, startServer, exchange, inTurn, parseResponses, BIG_SIZE } = require("./helpers/raw-http");

const IGNORE_MS = 300;
const H = "Host: a\r\n";
const calls = () => globalThis.__robustnessCalls ?? [];

const SMUGGLED = "GET /echo/smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

const CASES = [
  // Body framing
  ["conflicting Content-Length", `POST /echo HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 10\r\n\r\nhelloworld`,
    { status: 400, close: true }, { status: 400, close: true }],
  ["identical repeated Content-Length (Apache merges, then refuses)", `POST /echo HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    { status: 400, close: true }, { status: 400, close: true }],
  ["Content-Length list", `POST /echo HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`,
    { status: 400, close: true }, "dropped"],
  ["non-numeric Content-Length", `POST /echo HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\nhello`,
    { status: 400, close: true }, "dropped"],
  ["signed Content-Length", `POST /echo HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`,
    { status: 400, close: true }, "dropped"],
  ["CL.TE smuggling (Content-Length + chunked)", `POST /echo HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    { status: 400, close: true }, "dropped"],
  ["TE.CL smuggling (chunked + Content-Length)", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`,
    { status: 400, close: true }, "dropped"],
  ["Transfer-Encoding: gzip", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`,
    { status: 400, close: true }, { status: 400, close: true }],
  ["Transfer-Encoding: gzip, chunked", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    { status: 400, close: true }, { status: 400, close: true }],
  ["Transfer-Encoding: identity", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`,
    { status: 400, close: true }, { status: 400, close: true }],
  ["Transfer-Encoding: identity with Content-Length", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello`,
    { status: 400, close: true }, "dropped"],
  ["two Transfer-Encoding: chunked lines", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    { status: 400, close: true }, { status: 400, close: true }],
  ["space before the colon of Transfer-Encoding", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello`,
    { status: 400, close: true }, "ignored"],
  // httpd 2.4.71 reads a chunked HTTP/1.0 body as it would an HTTP/1.1 one; it keeps the
  // connection when asked to, where RFC 9112 6.1 requires closing it (we do); uWS refuses
  // HTTP/1.0 altogether.
  ["Transfer-Encoding in HTTP/1.0", `POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    { status: 200, close: true, check: (r) => assert.equal(JSON.parse(r.body.toString()).body, "hello") }, "ignored"],
  ["Transfer-Encoding in HTTP/1.0 with keep-alive", `POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    { status: 200, close: true, check: (r) => assert.equal(JSON.parse(r.body.toString()).length, 5) }, "ignored"],
  // A bad chunk is found after the request went to the application: no status can be sent
  // any more, so the connection is dropped (the application sees an abort).
  ["bad chunk size", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    "dropped", "dropped"],
  ["runaway chunk (data longer than its size)", `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n4\r\nSEE-THIS\r\n0\r\n\r\n`,
    "dropped", "dropped"],
  // Limits (Apache: LimitRequestLine 8190 -> 414, LimitRequestFieldSize 8190 -> 400,
  // LimitRequestFields 100 -> 400; the header block is capped at 16384 bytes -> 431).
  ["request line over 8190 bytes", `GET /app?${"q".repeat(9000)} HTTP/1.1\r\n${H}\r\n`,
    { status: 414, close: true }, { status: 414, close: true }],
  ["request line over the whole header budget", `GET /app?${"q".repeat(20000)} HTTP/1.1\r\n${H}\r\n`,
    { status: 414, close: true }, { status: 414, close: true }],
  ["one header field over 8190 bytes", `GET /app HTTP/1.1\r\n${H}X-Big: ${"a".repeat(9000)}\r\n\r\n`,
    { status: 400, close: true }, { status: 400, close: true }],
  ["header block over 16384 bytes", `GET /app HTTP/1.1\r\n${H}${Array.from({ length: 20 }, (_, i) => `X-F${i}: ${"b".repeat(1000)}\r\n`).join("")}\r\n`,
    { status: 431, close: true }, { status: 431, close: true }],
  ["101 header fields", `GET /app HTTP/1.1\r\n${H}${Array.from({ length: 100 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`,
    { status: 400, close: true }, "ignored"],
  // Request line and field syntax
  ["invalid method token", `G(T /app HTTP/1.1\r\n${H}\r\n`, { status: 400, close: true }, "dropped"],
  ["lower-case method", `get /app HTTP/1.1\r\n${H}\r\n`, { status: 400, close: true }, "dropped"],
  ["NUL in a header value", `GET /app HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`, { status: 400, close: true }, "ignored"],
  ["bare CR in a header value", `GET /app HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, { status: 400, close: true }, "ignored"],
  ["bare LF in a header value", `GET /app HTTP/1.1\r\n${H}X-A: a\nb\r\n\r\n`, { status: 400, close: true }, "ignored"],
  ["bare LF line endings", `GET /app HTTP/1.1\nHost: a\n\n`, { status: 400, close: true }, "ignored"],
  ["obs-fold (a continuation line)", `GET /echo HTTP/1.1\r\n${H}X-Fold: a\r\n b\r\n\r\n`, { status: 400, close: true }, "ignored"],
  ["HTTP/1.1 without Host", `GET /app HTTP/1.1\r\n\r\n`, { status: 400, close: true }, "ignored"],
  ["two Host headers", `GET /app HTTP/1.1\r\n${H}Host: b\r\n\r\n`, { status: 400, close: true }, { status: 400, close: true }],
  ["a fragment in the target (httpd: 400)", `GET /app#frag HTTP/1.1\r\n${H}\r\n`, { status: 400, close: true }, { status: 400, close: true }],
  ["a fragment after the query (httpd: 400)", `GET /echo?x=1#frag HTTP/1.1\r\n${H}\r\n`, { status: 400, close: true }, { status: 400, close: true }],
  ["underscore in a header name", `GET /app HTTP/1.1\r\n${H}X_Auth_User: admin\r\n\r\n`, { status: 200, close: false }, "ignored"],
  // Forms uWS does not serve
  ["HTTP/1.0 request", `GET /app HTTP/1.0\r\n\r\n`, { status: 200, close: true }, "ignored"],
  ["HTTP/1.0 request with Host", `GET /app HTTP/1.0\r\nHost: a\r\n\r\n`, { status: 200, close: true }, "ignored"],
  ["absolute-form target", `GET http://example.test/echo/abs?x=1 HTTP/1.1\r\nHost: other\r\n\r\n`,
    { status: 200, close: false, check: (r) => {
      const env = JSON.parse(r.body.toString());
      assert.equal(env.uri, "/echo/abs?x=1");
      assert.equal(env.path, "/abs");
      assert.equal(env.host, "example.test", "the target's authority replaces Host (RFC 9112 3.2.2)");
    } }, "ignored"],
];

async function expectOutcome(port, bytes, want) {
  if (want === "ignored") {
    const r = await exchange(port, bytes, { timeoutMs: IGNORE_MS });
    assert.equal(r.raw.length, 0, `expected no response, got ${JSON.stringify(r.raw.toString("latin1").slice(0, 60))}`);
    assert.equal(r.closed, false, "uWS leaves this connection to its idle timeout");
    return;
  }
  // A connection the server closes ends the exchange then (the bound is for a broken run); one
  // that must stay open is watched for a second after its complete answer. "At once" is told
  // from an idle close (the 5 s KeepAliveTimeout, uWS's 10 s), with room for a loaded machine.
  const closes = want === "dropped" || want.close;
  const AT_ONCE_MS = 4000;
  const answered = (buf) => parseResponses(buf).some((x) => x.complete);
  const r = await exchange(port, bytes, closes ? { timeoutMs: 30_000 } : { timeoutMs: 30_000, until: answered, lingerMs: 1000 });
  if (want === "dropped") {
    assert.equal(r.raw.length, 0, `expected no response, got ${JSON.stringify(r.raw.toString("latin1").slice(0, 60))}`);
    assert.ok(r.closed, "the connection is closed");
    assert.ok(r.ms < AT_ONCE_MS, `closed at once, not after ${r.ms} ms`);
    return;
  }
  const responses = parseResponses(r.raw);
  assert.equal(responses.length, 1, `one response, got ${JSON.stringify(r.raw.toString("latin1").slice(0, 120))}`);
  assert.equal(responses[0].status, want.status);
  if (want.close) {
    assert.ok(r.closed && r.ms < AT_ONCE_MS, `the connection is closed after the response (${r.ms} ms)`);
    if (want.status >= 400) assert.match(responses[0].headers.connection ?? "", /close/i);
  } else {
    assert.equal(r.closed, false, "the connection stays open");
  }
  want.check?.(responses[0]);
}

/** Send requests one after another on one connection, each after the previous answer. */
function keepAliveRun(port, count, request) {
  return new Promise((resolve, reject) => {
    const statuses = [];
    let buf = Buffer.alloc(0);
    const s = net.connect(port, "127.0.0.1", () => s.write(request(0)));
    s.on("data", (c) => {
      buf = Buffer.concat([buf, c]);
      const rs = parseResponses(buf);
      // parseResponses stops at an incomplete response; a complete one has its whole body.
      if (rs.length === 1 && rs[0].body.length === Number(rs[0].headers["content-length"])) {
        statuses.push(rs[0].status);
        buf = Buffer.alloc(0);
        if (statuses.length === count) {
          s.end();
          resolve(statuses);
        } else s.write(request(statuses.length));
      }
    });
    s.on("error", reject);
    s.on("close", () => {
      if (statuses.length < count) reject(new Error(`closed after ${statuses.length} responses`));
    });
  });
}

const site = makeSite();

for (const frontEnd of ["node", "uws"]) {
  describe(`http robustness: ${frontEnd} front end`, () => {
    let server;
    let port;
    before(async () => {
      ({ server, port } = await startServer(frontEnd, site));
    });
    after(async () => {
      await server?.stop(500);
    });

    describe("malformed and hostile requests", { concurrency: true }, () => {
      for (const [name, bytes, onNode, onUws] of CASES) {
        const want = frontEnd === "node" ? onNode : onUws;
        const label = typeof want === "string" ? want : `${want.status}${want.close ? " + close" : ""}`;
        it(`${name} -> ${label}`, () => expectOutcome(port, bytes, want));
      }
    });

    it("never runs a request smuggled behind a refused one", async () => {
      await exchange(port, `POST /echo HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 50\r\n\r\nhello${SMUGGLED}`);
      await exchange(port, `POST /echo HTTP/1.1\r\n${H}Host: b\r\nContent-Length: 0\r\n\r\n${SMUGGLED}`);
      assert.ok(!calls().some((c) => c.includes("smuggled")), `smuggled request ran: ${calls()}`);
    });

    it("a chunk-size line starting with whitespace never lets what follows run as a request", async () => {
      // uWS 20.30 reads ` 5` as the last chunk and parses what follows as the next request; a
      // proxy reading ` 5` as 5 would have passed it on as body. node:http refuses the size.
      // Read by an application, answered by a static file, answered before it is read (404).
      const before = calls().length;
      for (const [target, ws] of [["/echo", " "], ["/echo", "\t"], ["/index.html", " "], ["/nothing-here", " "]]) {
        const r = await exchange(port, `POST ${target} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${ws}5\r\n\r\n${SMUGGLED}`);
        assert.ok(r.closed, "the connection is closed");
        assert.ok(!calls().some((c) => c.includes("smuggled")), `smuggled request ran: ${calls()}`);
        // Only the first request may have reached the application (uWS: with an empty body).
        assert.ok(!r.raw.toString("latin1").includes("smuggled"));
      }
      assert.ok(calls().length - before <= 2);
    });

    it("a chunk-size line starting with whitespace after chunks with data never lets what follows run", async () => {
      // uWS reads ` 5` as the last chunk whatever came before it: the body `abc` is complete and
      // what follows would be parsed as the next request.
      for (const ws of [" ", "\t"]) {
        const r = await exchange(port, `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n${ws}5\r\n\r\n${SMUGGLED}`);
        assert.ok(r.closed, "the connection is closed");
        assert.ok(!calls().some((c) => c.includes("smuggled")), `smuggled request ran: ${calls()}`);
        assert.ok(!r.raw.toString("latin1").includes("smuggled"));
      }
    });

    it("the response to a chunked request says Connection: close on uWS, large bodies too", async () => {
      // A proxy in front then sends nothing more on the connection: whatever uWS makes of the
      // body's end, nothing behind it reaches uWS on this connection.
      const r = await exchange(port, `POST /big.bin HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, { timeoutMs: 30_000, until: (b) => b.length >= BIG_SIZE });
      const [res] = parseResponses(r.raw);
      assert.equal(res.status, 200);
      assert.equal(res.body.length, BIG_SIZE);
      if (frontEnd === "uws") assert.equal(res.headers.connection, "close");
      else assert.notEqual(res.headers.connection, "close");
    });

    it("a chunked body that arrives empty: answered, and the connection closed (uWS) or kept (node)", async () => {
      const r = await exchange(port, `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, { timeoutMs: 30_000, until: (b) => parseResponses(b).some((x) => x.complete), lingerMs: 1000 });
      const [res] = parseResponses(r.raw);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body.toString()).length, 0);
      if (frontEnd === "uws") {
        assert.equal(res.headers.connection, "close");
        assert.ok(r.closed);
      } else assert.equal(r.closed, false);
      // The same request with the smuggle arriving in a later packet: uWS has closed by then.
      const late = await exchange(port, [`POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n 5\r\n\r\n`], { timeoutMs: 30_000, until: (b) => parseResponses(b).some((x) => x.complete), lingerMs: 1000 });
      if (frontEnd === "uws") {
        assert.equal(parseResponses(late.raw)[0]?.headers.connection, "close");
        assert.ok(late.closed);
      } else assert.ok(late.closed && late.raw.length === 0, "node:http refuses the chunk size: dropped");
    });

    it("the server is still healthy after the hostile cases", async () => {
      const r = await exchange(port, `GET /app HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      const [res] = parseResponses(r.raw);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), "Hello World!");
      if (frontEnd === "uws") assert.equal(res.headers.uwebsockets, "20", "uWS adds this header to every response");
    });

    it("chunked body with trailers reaches the application", async () => {
      const r = await exchange(port, `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n`, { timeoutMs: 500 });
      const [res] = parseResponses(r.raw);
      assert.equal(res.status, 200);
      const env = JSON.parse(res.body.toString());
      assert.equal(env.body, "hello world");
      // uWS: every chunked request's connection closes (see the whitespace chunk-size cases).
      if (frontEnd === "node") assert.equal(r.closed, false, "keep-alive survives a trailer section");
      else assert.equal(res.headers.connection, "close");
    });

    it("pipelined GETs in one write are answered in order", async () => {
      const r = await exchange(port, `GET /app HTTP/1.1\r\n${H}\r\nGET /echo/second HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      const rs = parseResponses(r.raw);
      assert.deepEqual(rs.map((x) => x.status), [200, 200]);
      assert.equal(rs[0].body.toString(), "Hello World!");
      assert.equal(JSON.parse(rs[1].body.toString()).uri, "/echo/second");
      assert.ok(r.closed);
    });

    it(
      frontEnd === "node"
        ? "pipelined behind an asynchronous response: both answered in order"
        : "pipelined behind an asynchronous response: uWS closes the connection, neither is answered (documented)",
      async () => {
        const r = await exchange(port, `GET /slow?50 HTTP/1.1\r\n${H}\r\nGET /app HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
        const rs = parseResponses(r.raw);
        assert.ok(r.closed);
        if (frontEnd === "node") {
          assert.deepEqual(rs.map((x) => x.body.toString()), ["slow 50", "Hello World!"]);
        } else {
          assert.equal(rs.length, 0);
          assert.ok(r.ms < 4000, `closed at once (${r.ms} ms), not by the 10 s idle timeout`);
        }
        // A static file is read asynchronously too.
        const st = await exchange(port, `GET /index.html HTTP/1.1\r\n${H}\r\nGET /app HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
        assert.deepEqual(parseResponses(st.raw).map((x) => x.status), frontEnd === "node" ? [200, 200] : []);
        // The abandoned response does not leak a request slot.
        const deadline = Date.now() + 30_000; // ends with the condition; bounds a broken run
        while (server.frontEnd.inFlight > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
        assert.equal(server.frontEnd.inFlight, 0);
      },
    );

    it("bytes beyond ASCII: request text as latin-1 (where the parser allows), response head as latin-1 bytes", async () => {
      // The request carries "é" as UTF-8 (C3 A9) inside and at the end of header values.
      const a = await exchange(port, Buffer.from(`GET /bytes/p HTTP/1.1\r\n${H}X-Mid: a\xc3\xa9b\r\nX-End: a\xc3\xa9\r\nConnection: close\r\n\r\n`, "latin1"));
      const [res] = parseResponses(a.raw);
      assert.equal(res.status, 200);
      // mod_wsgi sends a head's text as latin-1: "Ç" and "é" are one byte each on the wire.
      assert.ok(a.raw.subarray(0, 20).equals(Buffer.from("HTTP/1.1 200 \xc7a va\r\n", "latin1")), JSON.stringify(a.raw.subarray(0, 20).toString("latin1")));
      assert.ok(a.raw.includes(Buffer.from("\r\nX-Latin: caf\xe9\r\n", "latin1")), "X-Latin as one latin-1 byte");
      const env = JSON.parse(res.body.toString());
      if (frontEnd === "node") {
        assert.deepEqual([env.mid, env.end], ["a\u00c3\u00a9b", "a\u00c3\u00a9"], "each byte one character, as mod_wsgi gives them");
      } else {
        // uWS decodes values as UTF-8 and trims non-ASCII bytes off their end (docs/front-ends.md).
        assert.deepEqual([env.mid, env.end], ["a\u00e9b", "a"]);
      }
      // The same bytes in the target: Apache serves them as latin-1 text; llhttp refuses them.
      const b = await exchange(port, Buffer.from(`GET /bytes/caf\xc3\xa9?q=\xc3\xa9 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, "latin1"));
      const [target] = parseResponses(b.raw);
      if (frontEnd === "node") {
        assert.equal(target.status, 400);
      } else {
        assert.equal(target.status, 200);
        assert.deepEqual(JSON.parse(target.body.toString()), { path: "/caf\u00c3\u00a9", query: "q=\u00c3\u00a9" });
      }
    });

    it("keep-alive: 100 requests on one connection", async () => {
      const statuses = await keepAliveRun(port, 100, (i) =>
        i % 2 ? `GET /app HTTP/1.1\r\n${H}\r\n` : `POST /echo/${i} HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`,
      );
      assert.equal(statuses.length, 100);
      assert.ok(statuses.every((s) => s === 200));
    });

    it("Expect: 100-continue gets 100 before the body is sent, then the answer", async () => {
      const result = await new Promise((resolve, reject) => {
        let buf = Buffer.alloc(0);
        let sentBody = false;
        const s = net.connect(port, "127.0.0.1", () =>
          s.write(`POST /echo HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`),
        );
        s.on("data", (c) => {
          buf = Buffer.concat([buf, c]);
          if (!sentBody && /^HTTP\/1\.1 100 /.test(buf.toString("latin1")) && buf.includes("\r\n\r\n")) {
            sentBody = true;
            s.write("hello");
          }
        });
        s.on("error", reject);
        s.on("close", () => resolve({ buf, sentBody }));
      });
      assert.ok(result.sentBody, "the interim 100 arrived");
      const text = result.buf.toString("latin1");
      const final = parseResponses(Buffer.from(text.slice(text.indexOf("\r\n\r\n") + 4), "latin1"));
      assert.equal(final[0].status, 200);
      assert.equal(JSON.parse(final[0].body.toString()).body, "hello");
    });

    it(frontEnd === "node"
      ? "Expect: 100-continue with a body over LimitRequestBody: 413 with no 100 first, then the connection closes (as httpd)"
      : "Expect: 100-continue with a body over LimitRequestBody: uWS has sent 100 before any handler runs, then 413 (documented)", async () => {
      const r = await exchange(port, `POST /limited HTTP/1.1\r\n${H}Content-Length: 50\r\nExpect: 100-continue\r\n\r\n`, { timeoutMs: 1000 });
      const text = r.raw.toString("latin1");
      if (frontEnd === "node") {
        assert.match(text, /^HTTP\/1\.1 413 /, "no interim 100");
        assert.match(text, /\r\nConnection: close\r\n/i);
        assert.ok(r.closed);
      } else {
        assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 413 /);
      }
    });

    it("Expect: 100-continue on a request without a body: no 100; httpd then closes the connection", async () => {
      const r = await exchange(port, `GET /app HTTP/1.1\r\n${H}Expect: 100-continue\r\n\r\n`, { timeoutMs: 1000 });
      const text = r.raw.toString("latin1");
      if (frontEnd === "uws") {
        assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, "uWS's own 100 (documented)");
        return;
      }
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /\r\nConnection: close\r\n/i);
      assert.ok(r.closed);
    });

    for (const [version, extra] of [["HTTP/1.1", ""], ["HTTP/1.0", ""]]) {
      it(`Expect: foo (${version}): 417 with httpd's page quoting it, then the connection closes${frontEnd === "uws" && version === "HTTP/1.0" ? " (uWS: HTTP/1.0 not served)" : ""}`, async () => {
        const r = await exchange(port, `GET /app ${version}\r\n${H}${extra}Expect: foo<b>\r\n\r\n`, { timeoutMs: frontEnd === "uws" && version === "HTTP/1.0" ? IGNORE_MS : 1500 });
        if (frontEnd === "uws" && version === "HTTP/1.0") {
          assert.equal(r.raw.length, 0);
          return;
        }
        const [res] = parseResponses(r.raw);
        assert.equal(res.status, 417);
        assert.equal(
          res.body.toString("latin1"),
          '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n<html><head>\n<title>417 Expectation Failed</title>\n</head><body>\n<h1>Expectation Failed</h1>\n' +
            "<p>The expectation given in the Expect request-header\nfield could not be met by this server.\nThe client sent<pre>\n    Expect: foo&lt;b&gt;\n</pre>\n</p><p>Only the 100-continue expectation is supported.</p>\n</body></html>\n",
        );
        assert.ok(r.closed);
      });
    }

    it("HEAD with Connection: close: the head with its length, then the connection is closed", async () => {
      const r = await exchange(port, `HEAD /app HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, { timeoutMs: 2000 });
      const text = r.raw.toString("latin1");
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /\r\nContent-Length: 12\r\n/i);
      assert.ok(!text.includes("Hello"), "no body on HEAD");
      assert.ok(r.closed);
    });

    it(frontEnd === "node" ? "OPTIONS *: an empty 200, as httpd" : "OPTIONS *: not served by uWS's parser (documented)", async () => {
      const r = await exchange(port, `OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, { timeoutMs: frontEnd === "node" ? 2000 : IGNORE_MS });
      const [res] = parseResponses(r.raw);
      if (frontEnd === "node") {
        assert.equal(res?.status, 200);
        assert.equal(res.headers["content-length"], "0");
        assert.equal(res.body.length, 0);
      } else {
        assert.equal(res, undefined);
      }
    });

    it("HEAD then GET on one keep-alive connection: both answered", async () => {
      const rs = await inTurn(port, [`HEAD /app HTTP/1.1\r\n${H}\r\n`, `HEAD /index.html HTTP/1.1\r\n${H}\r\n`, `GET /app HTTP/1.1\r\n${H}\r\n`]);
      assert.deepEqual(rs.map((x) => x.status), [200, 200, 200]);
      assert.equal(rs[2].body.toString(), "Hello World!");
    });

    it("a chunked body over LimitRequestBody: 413, and the connection is closed (the rest was never read)", async () => {
      // No request pipelined behind it: uWS drops a connection that pipelines behind a pending response.
      const r = await exchange(port, `POST /limited HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n`, { timeoutMs: 3000 });
      const rs = parseResponses(r.raw);
      assert.equal(rs[0]?.status, 413);
      assert.equal(rs[0].headers.connection, "close");
      assert.ok(r.closed, "closed, not left hanging");
    });

    it("a client that aborts mid-body does not disturb the server", async () => {
      await new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => {
          s.write(`POST /echo HTTP/1.1\r\n${H}Content-Length: 100000\r\n\r\n`);
          s.write(Buffer.alloc(1000, 120), () => setTimeout(() => s.destroy(), 30));
        });
        s.on("error", () => {});
        s.on("close", resolve);
      });
      const r = await exchange(port, `GET /app HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      assert.equal(parseResponses(r.raw)[0]?.status, 200);
      const deadline = Date.now() + 30_000; // ends with the condition; bounds a broken run
      while (server.frontEnd.inFlight > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
      assert.equal(server.frontEnd.inFlight, 0, "the aborted request released its slot");
    });

    it("slow reader of a large static file: bounded memory, complete when it resumes", async () => {
      global.gc?.();
      const base = process.memoryUsage();
      let peak = 0;
      const got = await new Promise((resolve, reject) => {
        let received = 0;
        let head = null;
        const s = net.connect(port, "127.0.0.1", () => {
          s.write(`GET /big.bin HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
          s.pause();
          const sample = setInterval(() => {
            const m = process.memoryUsage();
            peak = Math.max(peak, m.external + m.arrayBuffers - base.external - base.arrayBuffers, m.rss - base.rss);
          }, 20);
          setTimeout(() => {
            clearInterval(sample);
            s.resume();
          }, 400);
        });
        s.on("data", (c) => {
          if (head === null) {
            const text = c.toString("latin1");
            const sep = text.indexOf("\r\n\r\n");
            head = text.slice(0, sep);
            received += c.length - sep - 4;
          } else received += c.length;
        });
        s.on("error", reject);
        s.on("close", () => resolve({ head, received }));
      });
      assert.match(got.head, /^HTTP\/1\.1 200 /);
      assert.equal(got.received, BIG_SIZE, "the whole file arrived");
      assert.ok(peak < BIG_SIZE / 2, `memory grew by ${(peak / 1048576).toFixed(1)} MiB while the client was not reading`);
    });
  });

  describe(`shutdown with hostile clients: ${frontEnd} front end`, () => {
    it("half a request and an idle keep-alive client do not hold server.stop()", async () => {
      const { server, port } = await startServer(frontEnd, site);
      const closedAt = (s) => new Promise((resolve) => s.on("close", () => resolve(Date.now())));
      const half = net.connect(port, "127.0.0.1", () => half.write(`GET /app HTTP/1.1\r\n${H}X-Partial: `));
      half.on("error", () => {});
      const idle = net.connect(port, "127.0.0.1", () => idle.write(`GET /app HTTP/1.1\r\n${H}\r\n`));
      idle.on("error", () => {});
      await new Promise((resolve) => idle.once("data", resolve));
      const halfClosed = closedAt(half);
      const idleClosed = closedAt(idle);
      // Held by those clients, stop() would run out its grace and report an unclean stop; the
      // bounds below are far under that grace and only leave room for a loaded machine.
      const GRACE = 30_000;
      const t0 = Date.now();
      const clean = await server.stop(GRACE);
      assert.ok(Date.now() - t0 < GRACE / 3, `stop took ${Date.now() - t0} ms`);
      assert.equal(clean, true);
      // Unref'd: a timer left pending must not hold the test process open once the close came.
      const deadline = (p) => Promise.race([p, new Promise((resolve) => setTimeout(() => resolve(Infinity), GRACE / 3).unref())]);
      assert.ok((await deadline(halfClosed)) - t0 < GRACE / 3, "the half-sent request's connection is closed");
      assert.ok((await deadline(idleClosed)) - t0 < GRACE / 3, "the idle keep-alive connection is closed");
    });

    it("a request in flight finishes during stop(), then its connection closes", async () => {
      const { server, port } = await startServer(frontEnd, site);
      const pending = exchange(port, `GET /slow?200 HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 60_000 });
      // stop() once the server has the request (not after a guess of how long that takes).
      const until = Date.now() + 30_000;
      while (server.frontEnd.inFlight === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      const clean = await server.stop(30_000);
      assert.equal(clean, true);
      const r = await pending;
      const rs = parseResponses(r.raw);
      assert.equal(rs[0]?.body.toString(), "slow 200");
      assert.ok(r.closed, "closed after the response although the client asked for keep-alive");
    });
  });
}

describe("uWS idle timeout on requests its parser ignores", () => {
  it(
    "closes the connection after about 10 s",
    { skip: process.env.NODEWSGI_SLOW_TESTS ? false : "waits out uWS's 10 s idle timeout; set NODEWSGI_SLOW_TESTS=1" },
    async () => {
      const { server, port } = await startServer("uws", site);
      try {
        const r = await exchange(port, `GET /app HTTP/1.0\r\n\r\n`, { timeoutMs: 20000 });
        assert.equal(r.raw.length, 0);
        assert.ok(r.closed && r.ms > 5000 && r.ms < 15000, `closed after ${r.ms} ms`);
      } finally {
        await server.stop(100);
      }
    },
  );
});
