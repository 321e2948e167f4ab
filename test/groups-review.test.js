"use strict";
// Review of the multiplexed daemon protocol and the shared environ codec: cases that try to
// break the layout tables, flow control, abort paths and the bookkeeping under churn.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { daemonFixture, memLog, request, body, sink, run, waitFor, WAIT_MS } = require("./helpers/daemon-groups");
const { FrameReader, Outbox, WINDOW } = require("../dist/groups/daemon-protocol");
const { EnvironLayouts, LayoutTable, NO_LAYOUT, encodeEnviron, decodeEnviron, sameBytes, stringsBound, writeStrings } = require("../dist/groups/environ-codec");
const { WorkerGroup } = require("../dist/groups/worker-group");

const { root, groups, script, group } = daemonFixture("nwsgi-review-");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The supervisor's bookkeeping is empty once nothing is in flight. */
function assertIdle(g) {
  assert.equal(g.live.size, 0, "no exchange left in the deadline sweep");
  assert.equal(g.queue.length, 0, "nothing left queued");
  for (const c of g.children) {
    assert.equal(c.inflight, 0, "no request counted in flight");
    if (c.link) assert.equal(c.link.exchanges.size, 0, "no exchange left on the connection");
  }
}

// ---- environ codec ----

/** Encode `env` as the protocols do, then decode it on the other side's table. */
function roundTrip(env, layouts, table) {
  const strings = ["s"];
  const enc = encodeEnviron(env, layouts, strings);
  const text = strings.join("");
  const b = Buffer.alloc(sameBytes(enc) + stringsBound(strings.length, text) + 8);
  let at = 0;
  if (enc.same !== null) { b.set(enc.same, 0); at = sameBytes(enc); }
  const n = writeStrings(b, at, strings, text);
  return { enc, send: () => decodeEnviron(b, 0, enc.layout, enc.keys, env.length >>> 1, 1, strings.length, n, table) };
}

test("codec: LRU eviction, forgotten frames, duplicate keys and empty environs stay in step (randomised)", () => {
  let seed = 12345;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const shapes = [
    [],
    ["A", "B", "C"],
    ["A", "A", "A"],
    ["X", "Y"],
    ["A", "B"],
    ["K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8", "K9"],
    ["A", "B", "C", "D"],
  ];
  for (const max of [1, 2, 3, 64]) {
    const layouts = new EnvironLayouts(max);
    const table = new LayoutTable();
    for (let i = 0; i < 3000; i++) {
      const keys = shapes[rand(shapes.length)];
      const env = [];
      for (const k of keys) env.push(k, rand(3) === 0 ? `v${rand(4)}` : rand(2) ? "" : "same");
      const { enc, send } = roundTrip(env, layouts, table);
      assert.ok(enc.layout < max, "numbers stay within the table");
      if (rand(7) === 0) {
        layouts.forget(enc.layout); // the frame never left
        continue;
      }
      assert.deepEqual(send().environ, env, `request ${i} (max ${max})`);
    }
  }
  // Without a table every key and value travels.
  const table = new LayoutTable();
  const { enc, send } = roundTrip(["A", "1", "A", "2"], null, table);
  assert.equal(enc.layout, NO_LAYOUT);
  assert.deepEqual(send().environ, ["A", "1", "A", "2"]);
});

// ---- daemon: flow control and frame sizes ----

test("daemon: a response body written as one chunk larger than a frame may be arrives intact; others on the connection are unaffected", async () => {
  const big = script(
    "big.js",
    `exports.application = (environ, start_response) => {
       start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
       const b = Buffer.alloc(65 * 1024 * 1024 + 3);
       for (let i = 0; i < b.length; i += 4096) b[i] = (i / 4096) & 255;
       return [b];
     };`,
  );
  const slowApp = script(
    "slow.js",
    `exports.application = async (environ, start_response) => {
       await new Promise((r) => setTimeout(r, 300));
       start_response("200 OK", []);
       return [String(process.pid)];
     };`,
  );
  const { g, log } = group("bigchunk", { threads: 4 });
  assert.ok(await g.waitReady(WAIT_MS));
  const pid = g.pids()[0];
  const other = run(g, request(slowApp));
  const s = await run(g, request(big));
  assert.equal(s.status, 200);
  assert.equal(s.destroyed, false, log.lines.join("\n"));
  const got = s.body;
  assert.equal(got.length, 65 * 1024 * 1024 + 3);
  for (let i = 0; i < got.length; i += 4096) if (got[i] !== ((i / 4096) & 255)) assert.fail(`byte ${i}`);
  assert.equal((await other).text, String(pid));
  assert.deepEqual(g.pids(), [pid]);
  assertIdle(g);
});

test("daemon: many concurrent uploads and downloads larger than the window, with slow clients, share one connection", async () => {
  const echo = script(
    "echo.js",
    `exports.application = async (environ, start_response) => {
       const parts = [];
       for await (const c of environ["wsgi.input"]) parts.push(Buffer.from(c));
       const all = Buffer.concat(parts);
       start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
       return (function* () { for (let i = 0; i < all.length; i += 10000) yield all.subarray(i, i + 10000); yield all; })();
     };`,
  );
  const { g } = group("echo", { threads: 8 });
  assert.ok(await g.waitReady(WAIT_MS));
  const jobs = [];
  for (let i = 0; i < 16; i++) {
    const data = Buffer.alloc(WINDOW * 2 + 1000 * i, i + 1);
    jobs.push(run(g, request(echo, { method: "POST" }), body(data), sink({ slow: i % 2 === 0 })).then((s) => [s, data]));
  }
  for (const [s, data] of await Promise.all(jobs)) {
    assert.equal(s.status, 200);
    assert.ok(s.body.equals(Buffer.concat([data, data])));
  }
  assertIdle(g);
});

// ---- daemon: aborts ----

test("daemon: a client that leaves mid-upload does not run the application with a truncated body", async () => {
  const marker = path.join(root, "truncated.txt");
  const reader = script(
    "reader.js",
    `exports.application = async (environ, start_response) => {
       let n = 0;
       for await (const c of environ["wsgi.input"]) n += c.length;
       require("fs").writeFileSync(${JSON.stringify(marker)}, String(n));
       start_response("200 OK", []);
       return [String(n)];
     };`,
  );
  const { g } = group("truncated", { threads: 2 });
  assert.ok(await g.waitReady(WAIT_MS));
  const data = Buffer.alloc(1024 * 1024, 1);
  const b = body(data, { stallAt: 128 * 1024 });
  const s = sink();
  const done = g.dispatch(request(reader, { method: "POST" }), b, s);
  await waitFor(() => b.sent === 128 * 1024, "the body to stall");
  s.abort();
  await done;
  // A request behind the abort on the same connection: once it is answered, the process has
  // taken the abort (frames are read in order). The application, which runs only on a complete
  // body, must not have started; the pause gives a wrongly started one the time to show.
  const ping = script("ping.js", `exports.application = (e, sr) => { sr("200 OK", []); return ["pong"]; };`);
  assert.equal((await run(g, request(ping))).text, "pong");
  await sleep(300);
  assert.equal(fs.existsSync(marker), false, `the application ran with ${fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") : 0} of ${data.length} bytes`);
  assertIdle(g);
});

// ---- daemon: a process dying with a batch in flight ----

test("daemon: kill -9 with requests in flight and queued: in-flight get 500, queued ones run on the replacement", async () => {
  const started = path.join(root, "batch-started");
  const hold = script(
    "hold.js",
    `exports.application = async (environ, start_response) => {
       require("fs").appendFileSync(${JSON.stringify(started)}, process.pid + "\\n");
       await new Promise((r) => setTimeout(r, Number(environ.QUERY_STRING)));
       start_response("200 OK", []);
       return [String(process.pid)];
     };`,
  );
  const { g, log } = group("batch", { threads: 3 });
  assert.ok(await g.waitReady(WAIT_MS));
  const pid = g.pids()[0];
  const flights = [];
  for (let i = 0; i < 3; i++) flights.push(run(g, request(hold, { query: "20000", extra: ["HTTP_X_I", String(i)] })));
  for (let i = 0; i < 4; i++) flights.push(run(g, request(hold, { query: "10", extra: ["HTTP_Y", "q" + i] })));
  while (!fs.existsSync(started) || fs.readFileSync(started, "utf8").split("\n").length < 4) await sleep(10);
  assert.equal(g.queue.length, 4);
  process.kill(pid, "SIGKILL");
  const results = await Promise.all(flights);
  assert.deepEqual(results.slice(0, 3).map((s) => s.status), [500, 500, 500]);
  for (const s of results.slice(3)) {
    assert.equal(s.status, 200, log.lines.join("\n"));
    assert.notEqual(s.text, String(pid));
  }
  assertIdle(g);
});

// ---- timeouts ----

test("daemon: socket-timeout after the headers drops a stalled response; a slow client does not count", async () => {
  const stall = script(
    "stall.js",
    `exports.application = (environ, start_response) => {
       start_response("200 OK", []);
       return (async function* () { yield "first"; await new Promise((r) => setTimeout(r, 60000)); yield "never"; })();
     };`,
  );
  const { g } = group("readtimeout", { threads: 2, socketTimeout: 1 });
  assert.ok(await g.waitReady(WAIT_MS));
  const s = sink();
  let headAt = 0;
  const writeHead = s.writeHead;
  s.writeHead = (...a) => { headAt = Date.now(); writeHead(...a); };
  await run(g, request(stall), body(), s);
  // Timed from the headers (the socket-timeout after them); the upper bound only tells it from
  // never, with room for a loaded machine.
  const took = Date.now() - headAt;
  assert.equal(s.status, 200);
  assert.equal(s.destroyed, true);
  assert.ok(took >= 900 && took < 15_000, `dropped after ${took} ms`);
  assertIdle(g);
});

// ---- worker groups ----

test("worker group: a request too large for the ring leaves the layout tables in step for the next ones", async () => {
  const dump = script(
    "env.js",
    `exports.application = (environ, start_response) => {
       start_response("200 OK", [["Content-Type", "text/plain"]]);
       return [JSON.stringify([environ.HTTP_A, environ.HTTP_B, environ.QUERY_STRING])];
     };`,
  );
  const log = memLog();
  const g = new WorkerGroup({ name: "review", log, requestRingBytes: 64 * 1024 });
  groups.push(g);
  const req = (a, b, q) => ({ ...request(dump, { query: q, extra: ["HTTP_A", a, "HTTP_B", b] }), applicationGroup: "review" });
  const ok1 = await run(g, req("1", "x", "q"));
  assert.equal(ok1.text, JSON.stringify(["1", "x", "q"]));
  const tooBig = await run(g, req("2", "y".repeat(64 * 1024), "q"));
  assert.equal(tooBig.status, 500);
  // The same layout again: only "changed" values would travel if the front end thought the
  // worker had seen the oversized frame's values.
  const ok2 = await run(g, req("2", "x", "q"));
  assert.equal(ok2.text, JSON.stringify(["2", "x", "q"]));
  const ok3 = await run(g, req("3", "y".repeat(64 * 1024 - 1).slice(0, 10), "r"));
  assert.equal(ok3.text, JSON.stringify(["3", "yyyyyyyyyy", "r"]));
});

test("daemon: a sink that throws fails its own request only, not the connection it shares", async () => {
  const pidApp = script(
    "pid.js",
    `exports.application = async (environ, start_response) => {
       await new Promise((r) => setTimeout(r, Number(environ.QUERY_STRING || 0)));
       start_response("200 OK", []);
       return [String(process.pid)];
     };`,
  );
  const { g, log } = group("throwing", { threads: 4 });
  assert.ok(await g.waitReady(WAIT_MS));
  const pid = g.pids()[0];
  const other = run(g, request(pidApp, { query: "300" }));
  const bad = sink();
  bad.writeHead = () => { throw new Error("front end refused the head"); };
  await run(g, request(pidApp), body(), bad);
  assert.equal(bad.destroyed, true);
  const s = await other;
  assert.equal(s.status, 200, log.lines.join("\n"));
  assert.equal(s.text, String(pid));
  assert.deepEqual(g.pids(), [pid]);
  assert.ok(log.lines.some((l) => l.includes("front end refused the head")), log.lines.join("\n"));
  assertIdle(g);
});

test("protocol: credits added by beforeFlush leave in the same write and schedule no extra turn", async () => {
  const written = [];
  const fake = { destroyed: false, write(b) { written.push(Buffer.from(b)); return true; }, cork() {}, uncork() {} };
  const out = new Outbox(fake);
  let flushes = 0;
  out.beforeFlush = () => { flushes++; out.credit(5, 1, 100); };
  out.empty(4, 2);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(flushes, 1, "one flush for one turn's frames");
  assert.equal(written.length, 1);
  const types = [];
  new FrameReader((t) => types.push(t)).push(written[0]);
  assert.deepEqual(types, [4, 5]);
});

test("daemon: a client that does not drain is not a daemon timing out (socket-timeout), and only response-socket-timeout watches it", async () => {
  const stream = script(
    "stream-fast.js",
    `exports.application = (environ, start_response) => {
       start_response("200 OK", []);
       return (function* () { for (let i = 0; i < 40; i++) yield Buffer.alloc(65536, i); })();
     };`,
  );
  // response-socket-timeout (by default socket-timeout) is the client's own limit: set apart here.
  const { g } = group("slowclient", { threads: 2, socketTimeout: 1, responseSocketTimeout: 60 });
  assert.ok(await g.waitReady(WAIT_MS));
  const s = sink();
  let release = null;
  s.write = (c) => { s.chunks.push(Buffer.from(c)); s.size += c.length; return false; };
  s.drain = () => new Promise((r) => (release = r));
  const done = g.dispatch(request(stream), body(), s);
  // Once the client holds the response back, well past socket-timeout (1 s).
  await waitFor(() => release !== null, "the client to push back");
  await sleep(1600);
  assert.equal(s.destroyed, false, "not dropped while the client was not draining");
  const [ex] = [...g.live];
  assert.ok(ex, "the exchange is still in flight");
  assert.ok(ex.nextDeadline > Date.now() + 30_000, "only response-socket-timeout runs while the client holds the response back");
  s.drain = () => Promise.resolve();
  s.write = (c) => { s.chunks.push(Buffer.from(c)); s.size += c.length; return true; };
  release();
  await done;
  assert.equal(s.ended, true);
  assert.equal(s.size, 40 * 65536);
  assertIdle(g);
});

test("worker group: churn with aborts, failures and retries leaves no flight, credit or admission behind", async () => {
  const slow = script(
    "wslow.js",
    `exports.application = async (environ, start_response) => {
       if (environ.QUERY_STRING === "exit") process.exit(3);
       start_response("200 OK", []);
       return (async function* () { for (let i = 0; i < 20; i++) { await new Promise((r) => setTimeout(r, 1)); yield Buffer.alloc(70000, i); } })();
     };`,
  );
  const log = memLog();
  const g = new WorkerGroup({ name: "churn", log, threads: 4, window: 65536 });
  groups.push(g);
  const jobs = [];
  for (let i = 0; i < 40; i++) {
    const s = sink({ slow: i % 3 === 0 });
    const q = i === 17 ? "exit" : "";
    jobs.push(Promise.resolve(g.dispatch({ ...request(slow, { query: q }), applicationGroup: "churn" }, body(), s)).then(() => s));
    if (i % 4 === 1) setTimeout(() => s.abort(), 5 + i);
  }
  const all = await Promise.all(jobs);
  assert.ok(all.filter((s) => s.ended && s.size === 20 * 70000).length >= 20, "most requests complete in full");
  // The exited worker's requests are counted out when its exit is seen: wait for the books to
  // settle (bounded for a broken run), not a guessed 50 ms.
  await waitFor(() => g.inFlight === 0 && g.flights.size === 0 && g.creditDue.size === 0, "the group's books to settle").catch(() => {});
  assert.equal(g.inFlight, 0);
  assert.equal(g.flights.size, 0);
  assert.equal(g.creditDue.size, 0);
});
