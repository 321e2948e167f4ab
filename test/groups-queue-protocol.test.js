"use strict";
// The frames between the front end and a worker-thread group (src/groups/queue-protocol.ts),
// written into a real ring and read back.
const test = require("node:test");
const assert = require("node:assert/strict");
const { RingProducer, RingConsumer, createRing } = require("../dist/groups/request-queue");
const {
  EnvironLayouts, LayoutTable, encodeRequest, writeRequest, readRequest, writeResponse, readResponse, MAX_LAYOUTS, R_END, R_DONE,
} = require("../dist/groups/queue-protocol");

function request(environ, extra = {}) {
  return {
    script: "/srv/app.wsgi", callable: "application", applicationGroup: "g", processGroup: "", method: "GET", logPrefix: "[client 1.2.3.4:5] ",
    environ, urlScheme: "http", multithread: true, multiprocess: false, runOnce: false, bodyLimit: 1024, scriptMtimeMs: 1234.5, ...extra,
  };
}

/** A ring pair end to end: encode with `layouts`, decode with `table`. */
function channel() {
  const sab = createRing(1 << 16);
  const out = new RingProducer(sab);
  const frames = [];
  const table = new LayoutTable();
  const input = new RingConsumer(sab, (b, o, len) => frames.push(readRequest(b, o, len, table)));
  const layouts = new EnvironLayouts();
  return {
    layouts,
    send(req, body = { length: 0, fd: -1, data: null }, id = 1) {
      const enc = encodeRequest(req, layouts, body.fd < 0 ? body.length : 0);
      writeRequest(out, id, req, body, enc);
      input.drain();
      return { enc, got: frames.shift() };
    },
  };
}

test("a request round-trips: fixed fields, environ in order, inline body", () => {
  const ch = channel();
  const env = ["REQUEST_METHOD", "POST", "PATH_INFO", "/x", "HTTP_HOST", "example.org"];
  const body = { length: 3, fd: -1, data: Buffer.from("abc") };
  const { got } = ch.send(request(env, { method: "POST", urlScheme: "https", runOnce: true }), body, 42);
  assert.equal(got.id, 42);
  assert.deepEqual(got.req.environ, env);
  assert.equal(got.req.method, "POST");
  assert.equal(got.req.urlScheme, "https");
  assert.equal(got.req.runOnce, true);
  assert.equal(got.req.multiprocess, false);
  assert.equal(got.req.bodyLimit, 1024);
  assert.equal(got.req.scriptMtimeMs, 1234.5);
  assert.equal(got.req.logPrefix, "[client 1.2.3.4:5] ");
  assert.equal(got.body.data.toString(), "abc");
});

test("any string crosses unchanged: NUL, non-Latin-1, astral, lone surrogate, empty", () => {
  const ch = channel();
  const env = ["A", "x\0y", "B", "é中文", "C", "😀", "D", "", "E", "\ud800"];
  const { got } = ch.send(request(env, { scriptMtimeMs: undefined }));
  assert.deepEqual(got.req.environ.slice(0, 8), env.slice(0, 8));
  assert.equal(got.req.environ[9], "\ufffd"); // what UTF-8 can carry of a lone surrogate
  assert.equal(got.req.scriptMtimeMs, undefined);
});

test("a key sequence travels once; later requests send only values and get the same key objects", () => {
  const ch = channel();
  const first = ch.send(request(["K1", "a", "K2", "b"]));
  const second = ch.send(request(["K1", "c", "K2", "d"]));
  assert.equal(first.enc.keys, true);
  assert.equal(second.enc.keys, false);
  assert.equal(second.enc.layout, first.enc.layout);
  assert.ok(second.enc.bound < first.enc.bound);
  assert.deepEqual(second.got.req.environ, ["K1", "c", "K2", "d"]);
  // Same layout on the worker: the very same key strings (identity lets environ layouts match fast).
  assert.equal(second.got.req.environ[0], first.got.req.environ[0]);
  const other = ch.send(request(["K1", "e"]));
  assert.equal(other.enc.keys, true);
  assert.notEqual(other.enc.layout, first.enc.layout);
  assert.deepEqual(other.got.req.environ, ["K1", "e"]);
});

test("beyond MAX_LAYOUTS the least recently used number is redefined, in order with the requests", () => {
  const ch = channel();
  const hot = ["HOT", "1"];
  ch.send(request(hot));
  for (let i = 0; i < MAX_LAYOUTS * 2; i++) {
    const { got } = ch.send(request([`K${i}`, String(i)]));
    assert.deepEqual(got.req.environ, [`K${i}`, String(i)]);
    if (i % 8 === 0) assert.equal(ch.send(request(hot)).enc.keys, false, "a layout in use keeps its number");
  }
  for (let i = MAX_LAYOUTS * 2 - 8; i < MAX_LAYOUTS * 2; i++) {
    assert.deepEqual(ch.send(request([`K${i}`, "again"])).got.req.environ, [`K${i}`, "again"]);
  }
});

test("a layout forgotten before its frame was written is defined again by the next request", () => {
  const ch = channel();
  const env = ["K", "v"];
  const enc = encodeRequest(request(env), ch.layouts, 0);
  assert.equal(enc.keys, true);
  ch.layouts.forget(enc.layout); // the frame was never written (too large for the ring)
  const { enc: again, got } = ch.send(request(env));
  assert.equal(again.keys, true);
  assert.deepEqual(got.req.environ, env);
});

test("a frame using a layout the worker never saw is refused, not misread", () => {
  const sab = createRing(1 << 16);
  const out = new RingProducer(sab);
  const errors = [];
  const input = new RingConsumer(sab, (b, o, len) => readRequest(b, o, len, new LayoutTable()), (err) => errors.push(err));
  const layouts = new EnvironLayouts();
  encodeRequest(request(["K", "v"]), layouts, 0); // numbered, never sent
  const req = request(["K", "w"]);
  writeRequest(out, 1, req, { length: 0, fd: -1, data: null }, encodeRequest(req, layouts, 0));
  input.drain();
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, "E_FRAME");
});

test("a response head, body and flags round-trip", () => {
  const sab = createRing(1 << 16);
  const out = new RingProducer(sab);
  const got = [];
  const input = new RingConsumer(sab, (b, o, len) => got.push(readResponse(b, o, len)));
  const headers = [["Content-Type", "text/plain; charset=utf-8"], ["X-Empty", ""], ["X-Nul", "a\0b"], ["Set-Cookie", "é"]];
  writeResponse(out, 7, R_END | R_DONE, { status: 201, reason: "Créé", headers }, Buffer.from("hello"));
  writeResponse(out, 8, R_DONE, null, null);
  writeResponse(out, 9, R_END, { status: 500, reason: "Internal Server Error", headers: [], serverPage: true }, null);
  input.drain();
  assert.equal(got[0].id, 7);
  assert.equal(got[0].head.serverPage, false);
  assert.equal(got[2].head.status, 500);
  assert.equal(got[2].head.serverPage, true, "the server's own error page keeps its mark");
  assert.equal(got[0].head.status, 201);
  assert.equal(got[0].head.reason, "Créé");
  assert.deepEqual(got[0].head.headers, headers);
  assert.equal(got[0].chunk.toString(), "hello");
  assert.equal(got[0].flags & (R_END | R_DONE), R_END | R_DONE);
  assert.equal(got[1].head, null);
  assert.equal(got[1].chunk, null);
});

test("values equal to the previous request's of the same layout are not resent", () => {
  const ch = channel();
  const env = (uri, agent) => ["SERVER_NAME", "localhost", "REQUEST_URI", uri, "HTTP_USER_AGENT", agent, "SCRIPT_FILENAME", "/srv/app.wsgi"];
  const a = ch.send(request(env("/a", "curl")));
  const b = ch.send(request(env("/b", "curl")));
  const c = ch.send(request(env("/b", "wget")));
  const d = ch.send(request(env("/b", "wget")));
  assert.equal(b.enc.strings.length, 6 + 1, "only REQUEST_URI changed");
  assert.equal(c.enc.strings.length, 6 + 1, "only HTTP_USER_AGENT changed");
  assert.equal(d.enc.strings.length, 6, "nothing changed");
  assert.deepEqual(a.got.req.environ, env("/a", "curl"));
  assert.deepEqual(b.got.req.environ, env("/b", "curl"));
  assert.deepEqual(c.got.req.environ, env("/b", "wget"));
  assert.deepEqual(d.got.req.environ, env("/b", "wget"));
  // Two layouts interleaved keep their own previous values.
  const other = ["REQUEST_URI", "/x"];
  assert.deepEqual(ch.send(request(other)).got.req.environ, other);
  assert.deepEqual(ch.send(request(env("/c", "wget"))).got.req.environ, env("/c", "wget"));
  assert.deepEqual(ch.send(request(["REQUEST_URI", "/y"])).got.req.environ, ["REQUEST_URI", "/y"]);
});

test("a frame of a known layout that is never written (too large) makes the next one define the layout again", () => {
  const ch = channel();
  const env = (v) => ["K", v, "L", "same"];
  ch.send(request(env("1")));
  const unsent = encodeRequest(request(env("2")), ch.layouts, 0);
  assert.equal(unsent.keys, false);
  ch.layouts.forget(unsent.layout); // as WorkerGroup does when the frame exceeds the ring
  const { enc, got } = ch.send(request(env("2")));
  assert.equal(enc.keys, true);
  assert.deepEqual(got.req.environ, env("2"));
});
