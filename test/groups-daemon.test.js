"use strict";
// Daemon process groups: real child processes, real Unix sockets, the framed protocol.
const { JS_DUMP } = require("./helpers/conformance");
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { daemonFixture, spec, memLog, request, body, sink, run, waitFor, patterned, WAIT_MS } = require("./helpers/daemon-groups");
const { DaemonPool } = require("../dist/groups/daemon-pool");
const { FrameReader, Outbox, SLAB_MIN, decodeHead, decodeResponseHead, pooledSlabs } = require("../dist/groups/daemon-protocol");
const { EnvironLayouts, LayoutTable } = require("../dist/groups/environ-codec");

const { root, script, group } = daemonFixture("nwsgi-test-");

// The conformance dump script (shared/conformance/README.md), as the replay uses it.
const DUMP = JS_DUMP("myapp");

const PID_APP = script(
  "pid.js",
  `exports.application = async (environ, start_response) => {
     const ms = Number(environ.QUERY_STRING || 0);
     if (ms) await new Promise((r) => setTimeout(r, ms));
     start_response("200 OK", [["Content-Type", "text/plain"]]);
     return [String(process.pid)];
   };`,
);

// Like PID_APP, but first creates the file named by the query string: the test knows the
// request is running in the daemon, instead of guessing with a sleep.
const STARTED_APP = script(
  "started.js",
  `exports.application = async (environ, start_response) => {
     const [marker, ms] = environ.QUERY_STRING.split("&");
     require("fs").writeFileSync(marker, "");
     await new Promise((r) => setTimeout(r, Number(ms)));
     start_response("200 OK", [["Content-Type", "text/plain"]]);
     return [String(process.pid)];
   };`,
);

test("protocol: a response head marked as the server's own error page keeps its status and the mark", () => {
  const written = [];
  const out = new Outbox({ destroyed: false, write(b) { written.push(Buffer.from(b)); return true; }, cork() {}, uncork() {} }, false);
  out.responseHead(1, 503, "Service Unavailable", [["Connection", "close"]], true);
  out.responseHead(2, 599, "Odd", []);
  out.flush();
  const heads = [];
  new FrameReader((t, id, p) => heads.push(decodeResponseHead(Buffer.from(p)))).push(Buffer.concat(written));
  assert.deepEqual(heads.map((h) => [h.status, h.serverPage]), [[503, true], [599, false]]);
});

test("protocol: frames from one outbox flush round-trip through a split stream, with ids", () => {
  const written = [];
  const fake = { destroyed: false, write(b) { written.push(Buffer.from(b)); return true; }, cork() {}, uncork() {} };
  const out = new Outbox(fake, false);
  const req = request("/x/y.wsgi", { scriptMtimeMs: 1234.5, environ: ["A", "é", "B", ""], urlScheme: "https", multithread: true });
  out.head(7, { req, declaredLength: 7, chunked: false });
  out.responseHead(8, 201, "Created", [["X-A", "1"], ["Set-Cookie", "a=b"]]);
  out.data(11, 9, Buffer.alloc(100000, 7));
  out.credit(14, 10, 4096);
  out.empty(3, 4294967295);
  assert.equal(written.length, 0, "nothing leaves before the flush");
  out.flush();
  const all = Buffer.concat(written);
  const got = [];
  const r = new FrameReader((t, id, p) => got.push([t, id, Buffer.from(p)]));
  for (let i = 0; i < all.length; i += 333) r.push(all.subarray(i, i + 333));
  assert.deepEqual(got.map(([t, id]) => [t, id]), [[1, 7], [10, 8], [11, 9], [14, 10], [3, 4294967295]]);
  const w = decodeHead(got[0][2]);
  assert.deepEqual(w.req, req);
  assert.equal(w.declaredLength, 7);
  assert.deepEqual(decodeResponseHead(got[1][2]), { status: 201, reason: "Created", headers: [["X-A", "1"], ["Set-Cookie", "a=b"]], serverPage: false });
  assert.equal(got[2][2].length, 100000);
  assert.equal(got[3][2].readUInt32LE(0), 4096);
  // The supervisor's rewrite while encoding: daemon keys dropped, its own appended, flags set.
  const withKeys = request("/x/y.wsgi", { environ: ["mod_wsgi.queue_start", "1", "A", "\ud800x", "mod_wsgi.other", "k"] });
  out.head(13, { req: withKeys, declaredLength: -1, chunked: true }, {
    processGroup: "g", multiprocess: true, multithread: false, runOnce: true,
    drop: new Set(["mod_wsgi.queue_start"]), extra: ["mod_wsgi.process_group", "g", "Z", ""],
  });
  out.flush();
  const rw = [];
  new FrameReader((t, id, p) => rw.push(decodeHead(Buffer.from(p)))).push(written.pop());
  assert.deepEqual(rw[0].req.environ, ["A", "\ufffdx", "mod_wsgi.other", "k", "mod_wsgi.process_group", "g", "Z", ""]);
  assert.equal(rw[0].req.processGroup, "g");
  assert.equal(rw[0].req.multiprocess && rw[0].req.runOnce && !rw[0].req.multithread, true);
  assert.equal(rw[0].chunked, true);
  // With layouts, a key sequence crosses once per connection and unchanged values are not resent.
  out.layouts = new EnvironLayouts();
  const table = new LayoutTable();
  const seen = [];
  const headers = (i) => request("/x", { environ: ["REQUEST_METHOD", "GET", "HTTP_X", String(i), "REQUEST_METHOD", "again"] });
  for (let i = 0; i < 3; i++) out.head(20 + i, { req: headers(i), declaredLength: 0, chunked: false });
  out.head(23, { req: request("/x", { environ: ["OTHER", "v"] }), declaredLength: 0, chunked: false });
  out.flush();
  const layoutBytes = written.pop();
  new FrameReader((t, id, p) => seen.push(decodeHead(Buffer.from(p), table))).push(layoutBytes);
  for (let i = 0; i < 3; i++) assert.deepEqual(seen[i].req.environ, headers(i).environ);
  assert.deepEqual(seen[3].req.environ, ["OTHER", "v"]);
  assert.equal(seen[1].req.environ[0], seen[0].req.environ[0], "the same key strings for one layout");
  assert.equal(layoutBytes.toString("latin1").split("REQUEST_METHOD").length - 1, 2, "keys cross once");
  assert.equal(layoutBytes.toString("latin1").split("again").length - 1, 1, "an unchanged value crosses once");
  // A frame of a layout the child never saw is refused, not misread.
  const second = layoutBytes.subarray(9 + layoutBytes.readUInt32LE(5));
  assert.throws(() => decodeHead(Buffer.from(second.subarray(9, 9 + second.readUInt32LE(5))), new LayoutTable()), /undefined environ layout/);
  // Frames written after a flush do not disturb the bytes already handed over.
  out.data(11, 12, Buffer.alloc(10, 1));
  out.flush();
  assert.ok(Buffer.concat(written.slice(0, -1)).equals(all));
});

test("protocol: large data frames are built in pooled slabs, in order with the frames around them; a slab is reused only after its write's callback", () => {
  const written = [];
  const callbacks = [];
  // Keeps what it is handed (not a copy): a slab reused too early would change these bytes.
  const fake = { destroyed: false, write(b, cb) { written.push(b); if (cb) callbacks.push(cb); return true; }, cork() {}, uncork() {} };
  const out = new Outbox(fake, false);
  const big1 = patterned(256 * 1024, 1);
  const big2 = patterned(SLAB_MIN, 2);
  const small = patterned(SLAB_MIN - 1, 3);
  out.credit(14, 1, 10);
  out.data(2, 5, big1);
  out.data(2, 6, small);
  out.data(2, 7, big2);
  out.empty(3, 5);
  const before = pooledSlabs();
  out.flush();
  assert.equal(callbacks.length, 1, "one callback per flush, on its last write");
  // Before the callback, new big frames must not land in the slabs handed over.
  out.data(2, 8, patterned(300 * 1024, 4));
  out.flush();
  assert.equal(pooledSlabs(), Math.max(0, before - 4), "no slab came back before a callback");
  const first = Buffer.concat(written.slice(0, 5));
  const got = [];
  new FrameReader((t, id, p) => got.push([t, id, Buffer.from(p)])).push(first);
  assert.deepEqual(got.map(([t, id]) => [t, id]), [[14, 1], [2, 5], [2, 6], [2, 7], [3, 5]]);
  assert.ok(got[1][2].equals(big1) && got[2][2].equals(small) && got[3][2].equals(big2));
  callbacks.splice(0).forEach((cb) => cb());
  assert.ok(pooledSlabs() >= 2, "the slabs went back to the pool");
  // A destroyed socket: nothing written, the slabs go straight back.
  fake.destroyed = true;
  const n = pooledSlabs();
  out.data(2, 9, big1);
  assert.equal(pooledSlabs(), n - 1);
  out.flush();
  assert.equal(pooledSlabs(), n);
});

test("protocol: a borrowed reader yields the frames an owned one does, from a stream split anywhere, without keeping them", () => {
  const written = [];
  const fake = { destroyed: false, write(b) { written.push(Buffer.from(b)); return true; }, cork() {}, uncork() {} };
  const out = new Outbox(fake, false);
  const sizes = [0, 1, 8, 9, 100, SLAB_MIN - 1, SLAB_MIN, 65536, 256 * 1024, 5, 256 * 1024 - 1, 3];
  sizes.forEach((n, i) => (n === 0 ? out.empty(3, i) : out.data(2, i, patterned(n, i + 10))));
  out.flush();
  // A HEAD larger than the reader's kept buffer, then more frames.
  out.responseHead(99, 200, "OK", [["X-Big", "h".repeat(1536 * 1024)]]);
  out.data(2, 100, patterned(70000, 100));
  out.flush();
  const stream = Buffer.concat(written);
  const owned = [];
  new FrameReader((t, id, p) => owned.push([t, id, Buffer.from(p)])).push(stream);
  assert.equal(owned.length, sizes.length + 2);
  for (const step of [1, 7, 9, 4096, 65536, 100003, stream.length]) {
    const got = [];
    const r = new FrameReader((t, id, p) => got.push([t, id, Buffer.from(p)]), true);
    // Each read arrives in one reused buffer, as with a socket's onread: the reader must copy.
    const readBuf = Buffer.alloc(step);
    for (let at = 0; at < stream.length; at += step) {
      const n = stream.copy(readBuf, 0, at, Math.min(stream.length, at + step));
      r.push(readBuf.subarray(0, n));
      readBuf.fill(0xee);
    }
    assert.equal(got.length, owned.length, `step ${step}`);
    for (let i = 0; i < got.length; i++) {
      assert.deepEqual(got[i].slice(0, 2), owned[i].slice(0, 2), `step ${step}, frame ${i}`);
      assert.ok(got[i][2].equals(owned[i][2]), `step ${step}, frame ${i}: payload`);
    }
  }
  assert.throws(() => new FrameReader(() => {}, true).push(Buffer.from([2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])), /too large/);
});

test("round trip with the dump app runs in another process with the daemon environ keys", async () => {
  const dump = script("dump.wsgi", DUMP);
  const { g } = group("single", { threads: 5, displayName: "%{GROUP}", lang: "C.UTF-8", home: root });
  const s = await run(g, request(dump, { method: "POST" }), body(Buffer.from("hello body")));
  assert.equal(s.status, 200, s.text);
  const env = JSON.parse(s.text);
  assert.equal(env["mod_wsgi.process_group"], "single");
  assert.equal(env["wsgi.multiprocess"], false);
  assert.equal(env["wsgi.multithread"], true);
  assert.equal(env["wsgi.run_once"], false);
  assert.equal(env["mod_wsgi.daemon_connects"], "1");
  assert.equal(env["mod_wsgi.daemon_restarts"], "0");
  assert.match(env["mod_wsgi.daemon_start"], /^\d{16}$/);
  assert.ok(Number(env["mod_wsgi.queue_start"]) <= Number(env["mod_wsgi.daemon_start"]));
  assert.equal(env["wsgi.input.length"], 10);
  // A named application group runs in its own isolate inside the daemon process.
  const named = await run(g, request(dump, { applicationGroup: "localhost|/a" }));
  assert.equal(named.status, 200, named.text);
  assert.equal(JSON.parse(named.text)["mod_wsgi.process_group"], "single");
  const p = await run(g, request(PID_APP));
  assert.equal(p.status, 200);
  assert.notEqual(Number(p.text), process.pid);
  assert.deepEqual(g.pids(), [Number(p.text)]);
  assert.match(fs.readFileSync(`/proc/${p.text}/cmdline`, "latin1"), /^\(wsgi:single\)/);
  assert.equal(fs.readlinkSync(`/proc/${p.text}/cwd`), fs.realpathSync(root));
  assert.match(fs.readFileSync(`/proc/${p.text}/environ`, "latin1"), /(^|\0)LANG=C\.UTF-8\0/);
});

test("explicit processes=1 is multiprocess; large bodies cross both ways", async () => {
  const echo = script(
    "echo.js",
    `exports.application = (environ, start_response) => {
       const b = environ["wsgi.input"].read();
       start_response("200 OK", [["Content-Length", String(b.length * 2)]]);
       return [b, b];
     };`,
  );
  const { g } = group("one", { processesExplicit: true, threads: 1 });
  const data = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  const s = await run(g, request(echo, { method: "POST" }), body(data));
  assert.equal(s.status, 200);
  const out = Buffer.concat(s.chunks);
  assert.equal(out.length, data.length * 2);
  assert.ok(out.subarray(0, data.length).equals(data) && out.subarray(data.length).equals(data));
  const d = await run(g, request(script("dump2.wsgi", DUMP)));
  const env = JSON.parse(d.text);
  assert.equal(env["wsgi.multiprocess"], true);
  assert.equal(env["wsgi.multithread"], false);
});

test("processes=2 spreads concurrent requests over both processes", async () => {
  const { g } = group("multi", { processes: 2, processesExplicit: true, threads: 4 });
  assert.ok(await g.waitReady(WAIT_MS));
  const results = await Promise.all([1, 2, 3, 4].map(() => run(g, request(PID_APP, { query: "150" }))));
  const pids = new Set(results.map((s) => s.text));
  assert.ok(results.every((s) => s.status === 200));
  assert.equal(pids.size, 2);
});

test("kill -9 of a daemon mid-request gives 500, as mod_wsgi answers (Truncated or oversized response headers); the next request succeeds on a respawned process", async () => {
  const marker = path.join(root, "started.pid");
  const slow = script(
    "slow.js",
    `exports.application = async (environ, start_response) => {
       require("fs").writeFileSync(${JSON.stringify(marker)}, String(process.pid));
       await new Promise((r) => setTimeout(r, 10000));
       start_response("200 OK", []);
       return ["late"];
     };`,
  );
  const { g, log } = group("killed", { threads: 2 });
  const pending = run(g, request(slow));
  while (!fs.existsSync(marker)) await new Promise((r) => setTimeout(r, 10));
  const pid = Number(fs.readFileSync(marker, "utf8"));
  process.kill(pid, "SIGKILL");
  const s = await pending;
  assert.equal(s.status, 500);
  assert.ok(log.lines.some((l) => l.includes("Truncated or oversized response headers received from daemon process 'killed'")), log.lines.join("\n"));
  const next = await run(g, request(PID_APP));
  assert.equal(next.status, 200);
  assert.notEqual(Number(next.text), pid);
  assert.ok(log.lines.some((l) => l.includes(`pid ${pid}) died unexpectedly`)), log.lines.join("\n"));
});

test("a never-returning handler gets 504 after request-timeout and its process is recycled; others are unaffected", async () => {
  const hang = script("hang.js", `exports.application = () => new Promise(() => {});`);
  const { g, log } = group("hung", { threads: 4, requestTimeout: 1, gracefulTimeout: 1, shutdownTimeout: 1 });
  const t0 = Date.now();
  const hung = run(g, request(hang));
  await new Promise((r) => setTimeout(r, 100));
  const ok = await run(g, request(PID_APP));
  assert.equal(ok.status, 200);
  const s = await hung;
  assert.equal(s.status, 504);
  // At request-timeout scaled by 1 + ln(threads) as mod_wsgi 6 does (4 threads: 2.39 s), not
  // before; the upper bound only tells it from never (a loaded machine may add seconds to the
  // process start and the sweep).
  const took = Date.now() - t0;
  assert.ok(took >= 2340 && took < 20_000, `504 after ${took} ms`);
  assert.ok(log.lines.some((l) => /has been recycled \(request timeout\), pid \d+/.test(l)), log.lines.join("\n"));
  // The process with the stuck request takes no more (it may be wedged): the next request
  // waits for the replacement.
  const after = await run(g, request(PID_APP));
  assert.equal(after.status, 200);
  assert.notEqual(after.text, ok.text);
});

test("maximum-requests recycles under concurrent load without a failed request", async () => {
  const { g, log } = group("recycle", { processes: 2, processesExplicit: true, threads: 3, maximumRequests: 8, gracefulTimeout: 2 });
  const statuses = [];
  const pids = new Set();
  const recycled = () => log.lines.filter((l) => /Process 'recycle' has been recycled \(maximum requests reached\), pid \d+/.test(l)).length;
  // Six clients keep the group busy until it has recycled at least four times and four
  // processes have answered: counted, not timed, as a replacement starts slowly on a loaded
  // machine while the old process keeps serving (the deadline only bounds a broken run).
  const enough = () => statuses.length > 100 && recycled() >= 4 && pids.size >= 4;
  const deadline = Date.now() + WAIT_MS;
  const worker = async () => {
    while (!enough() && Date.now() < deadline) {
      const s = await run(g, request(PID_APP, { query: "5" }));
      statuses.push(s.status);
      pids.add(s.text);
    }
  };
  await Promise.all([1, 2, 3, 4, 5, 6].map(worker));
  assert.ok(statuses.length > 100, `requests: ${statuses.length}`);
  assert.deepEqual(statuses.filter((x) => x !== 200), []);
  const recycles = recycled();
  assert.ok(recycles >= 4, `recycles: ${recycles}\n${log.lines.join("\n")}`);
  assert.ok(pids.size >= 4, `pids: ${[...pids]}`);
  assert.equal(log.lines.filter((l) => l.includes("died unexpectedly")).length, 0);
});

test("maximum-requests: the replacement starts `threads` requests ahead when that leaves half, and takes over when ready", async () => {
  const { g, log } = group("ahead", { threads: 1, maximumRequests: 5 });
  const starts = () => log.lines.filter((l) => l.includes("Starting process 'ahead'")).length;
  const first = [];
  for (let i = 0; i < 3; i++) first.push((await run(g, request(PID_APP))).text);
  assert.equal(starts(), 1);
  first.push((await run(g, request(PID_APP))).text);
  assert.equal(new Set(first).size, 1);
  assert.equal(starts(), 2, "the 4th request started the replacement");
  // Once it is ready the old process (4 requests served) takes no more.
  await waitFor(() => g.pids().length === 1 && String(g.pids()[0]) !== first[0], "the replacement serving alone");
  const next = await run(g, request(PID_APP));
  assert.notEqual(next.text, first[0]);

  // threads=4, maximum-requests=5: starting 4 ahead would leave the process 1 request; it is
  // replaced at its maximum instead.
  const { g: g4, log: log4 } = group("atmax", { threads: 4, maximumRequests: 5 });
  const starts4 = () => log4.lines.filter((l) => l.includes("Starting process 'atmax'")).length;
  const pids = [];
  for (let i = 0; i < 4; i++) pids.push((await run(g4, request(PID_APP))).text);
  assert.equal(starts4(), 1);
  pids.push((await run(g4, request(PID_APP))).text);
  assert.equal(new Set(pids).size, 1, "five requests, one process");
  assert.equal(starts4(), 2);
  const sixth = await run(g4, request(PID_APP));
  assert.equal(sixth.status, 200);
  assert.notEqual(sixth.text, pids[0]);
});

test("touching the script restarts the group and the next request sees the new code", async () => {
  const file = script("touch.js", `exports.application = (e, s) => { s("200 OK", []); return ["v1 " + process.pid]; };`);
  const { g, log } = group("touched", { gracefulTimeout: 1 });
  const a = await run(g, request(file));
  assert.match(a.text, /^v1 /);
  fs.writeFileSync(file, `exports.application = (e, s) => { s("200 OK", []); return ["v2 " + process.pid]; };`);
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(file, later, later);
  const b = await run(g, request(file));
  assert.equal(b.status, 200);
  assert.match(b.text, /^v2 /);
  assert.notEqual(b.text.split(" ")[1], a.text.split(" ")[1], "a new process");
  assert.ok(log.lines.some((l) => l.includes("has been recycled (script modified)")));
});

test("a script that crashes at load gives 500, not a hang, and the process keeps serving", async () => {
  const bad = script("bad.js", `throw new Error("boom at load");`);
  const { g, log } = group("crashy");
  const s = await run(g, request(bad));
  assert.equal(s.status, 500);
  assert.ok(log.lines.some((l) => l.includes("boom at load")));
  const ok = await run(g, request(PID_APP));
  assert.equal(ok.status, 200);
});

test("an exception thrown, or a promise rejected, outside any request is logged; the process goes on serving", async () => {
  const stray = script(
    "stray.js",
    `exports.application = (environ, start_response) => {
       if (environ.QUERY_STRING === "throw") setTimeout(() => { throw new Error("stray daemon timer"); }, 5);
       else setTimeout(() => Promise.reject(new Error("stray daemon rejection")), 5);
       start_response("200 OK", [["Content-Type", "text/plain"]]);
       return [String(process.pid)];
     };`,
  );
  const { g, log } = group("stray");
  const first = await run(g, request(stray, { query: "throw" }));
  assert.equal(first.status, 200);
  await run(g, request(stray, { query: "reject" }));
  await waitFor(() => log.lines.some((l) => l.includes("stray daemon timer")) && log.lines.some((l) => l.includes("stray daemon rejection")), "both errors logged");
  assert.ok(log.lines.some((l) => /Uncaught exception in daemon process 'stray', outside any request's handling; serving goes on\./.test(l)), log.lines.join("\n"));
  assert.ok(log.lines.some((l) => /Unhandled promise rejection in daemon process 'stray'/.test(l)), log.lines.join("\n"));
  const again = await run(g, request(PID_APP));
  assert.equal(again.text, first.text, "the same process");
});

test("queue-timeout answers 504 when every thread stays busy", async () => {
  const { g } = group("queued", { threads: 1, queueTimeout: 1 });
  assert.ok(await g.waitReady(WAIT_MS));
  const marker = path.join(root, "queued-busy");
  let busyDone = false;
  const busy = run(g, request(STARTED_APP, { query: `${marker}&5000` })).then((s) => ((busyDone = true), s));
  // The one thread is taken (the application runs) before the second request arrives.
  await waitFor(() => fs.existsSync(marker), "the busy request to start");
  const t0 = Date.now();
  const s = await run(g, request(PID_APP));
  assert.equal(s.status, 504);
  assert.ok(Date.now() - t0 >= 950, "not before queue-timeout");
  assert.equal(busyDone, false, "answered while the thread was still busy");
  assert.equal((await busy).status, 200);
});

test("a daemon that cannot start gives 503 after connect-timeout, with backoff logged", async () => {
  const broken = script("broken-child.js", `process.exit(3);`);
  const { g, log } = group("broken", { connectTimeout: 1 }, { childModule: broken });
  const t0 = Date.now();
  const s = await run(g, request(PID_APP));
  assert.equal(s.status, 503);
  // After connect-timeout (1 s), not the socket-timeout (Apache's Timeout, 60 s) a request
  // would otherwise wait; the margin is for a loaded machine.
  assert.ok(Date.now() - t0 < 20_000, `503 after ${Date.now() - t0} ms`);
  // On a loaded machine the 503 can come before the first child has even got to its exit.
  await waitFor(() => log.lines.some((l) => l.includes("died unexpectedly (exit code 3)")), "the child's exit to be logged");
  const restarts = log.lines.filter((l) => l.includes("died unexpectedly")).length;
  assert.ok(restarts < 10, `backoff keeps restarts down (${restarts})`);
});

test("a daemon process that dies while starting is started again once its backoff is over", async () => {
  // The first start exits at once, the next runs the real child: the group must serve. (The
  // backoff's timer used to arm itself again when it fired, so no process ever started.)
  const marker = path.join(root, "crashed-once");
  const child = script(
    "crash-once-child.js",
    `if (!require("fs").existsSync(${JSON.stringify(marker)})) { require("fs").writeFileSync(${JSON.stringify(marker)}, ""); process.exit(3); }
     require(${JSON.stringify(path.join(__dirname, "..", "dist", "groups", "daemon-child.js"))}).main();`,
  );
  const { g, log } = group("crash-once", { connectTimeout: 20 }, { childModule: child });
  // The supervisor's timers are unref'd (a server's listening socket keeps it alive): this does.
  const alive = setInterval(() => {}, 1000);
  try {
    const s = await run(g, request(PID_APP));
    assert.equal(s.status, 200);
    assert.equal(log.lines.filter((l) => l.includes("died unexpectedly (exit code 3)")).length, 1);
  } finally {
    clearInterval(alive);
  }
});

test("preload runs WSGIImportScript in each process; the pool routes by process group; close stops everything", async () => {
  const flag = path.join(root, "preloaded");
  const pre = script("pre.js", `require("fs").appendFileSync(${JSON.stringify(flag)}, process.pid + "\\n"); exports.application = (e, s) => { s("200 OK", []); return ["pre"]; };`);
  const log = memLog();
  const specs = new Map([["p1", spec("p1", { processes: 2 })], ["p2", spec("p2")]]);
  const pool = new DaemonPool({ daemonProcesses: specs }, log);
  await pool.start([{ script: pre, processGroup: "p1", applicationGroup: "", where: { file: "t", line: 1 } }]);
  assert.ok(await pool.get("p1").waitReady(WAIT_MS));
  const lines = fs.readFileSync(flag, "utf8").trim().split("\n");
  assert.equal(new Set(lines).size, 2);
  const s = sink();
  await pool.dispatch(request(pre, { processGroup: "p1" }), body(), s);
  assert.equal(s.text, "pre");
  assert.equal(fs.readFileSync(flag, "utf8").trim().split("\n").length, 2, "the preloaded module was reused");
  const u = sink();
  await pool.dispatch(request(pre, { processGroup: "nope" }), body(), u);
  assert.equal(u.status, 500);
  const pids = pool.get("p1").pids().concat(pool.get("p2").pids());
  await pool.close(1000);
  for (const pid of pids) assert.throws(() => process.kill(pid, 0));
  assert.equal(fs.existsSync(pool.socketDir), false);
});

test("a slow client holds the daemon back instead of buffering the response without bound", async () => {
  const streamer = script(
    "stream.js",
    `let produced = 0;
     exports.application = (e, s) => {
       s("200 OK", [["Content-Type", "application/octet-stream"]]);
       return (async function* () { for (let i = 0; i < 400; i++) { produced++; yield Buffer.alloc(65536, 1); } })();
     };
     exports.count = (e, s) => { s("200 OK", []); return [String(produced)]; };`,
  );
  const { g } = group("slow-client", { threads: 4 });
  let release;
  const gate = new Promise((r) => (release = r));
  let open = false;
  let received = 0;
  const s = sink();
  s.write = (c) => { received += c.length; return open; };
  s.drain = () => (open ? Promise.resolve() : gate);
  const done = g.dispatch(request(streamer), body(), s);
  await new Promise((r) => setTimeout(r, 500));
  const count = await run(g, request(streamer, { callable: "count" }));
  assert.ok(Number(count.text) < 120, `the daemon produced ${count.text} chunks for a stalled client`);
  open = true;
  release();
  await done;
  assert.equal(s.status, 200);
  assert.ok(s.ended);
  assert.equal(received, 400 * 65536);
});

test("socket-timeout: no response headers in time gives 504", async () => {
  const { g } = group("sockto", { socketTimeout: 1 });
  assert.ok(await g.waitReady(WAIT_MS));
  const t0 = Date.now();
  // The application would answer after 20 s: the 504 comes from socket-timeout (1 s).
  const s = await run(g, request(PID_APP, { query: "20000" }));
  assert.equal(s.status, 504);
  const took = Date.now() - t0;
  assert.ok(took >= 950 && took < 15_000, `504 after ${took} ms`);
});

test("close lets an in-flight request finish, then the processes are gone", async () => {
  const { g } = group("closing", {});
  assert.ok(await g.waitReady(WAIT_MS));
  const pid = g.pids()[0];
  const marker = path.join(root, "closing-started");
  const pending = run(g, request(STARTED_APP, { query: `${marker}&300` }));
  await waitFor(() => fs.existsSync(marker), "the request to start");
  // close() returns once the request is done: the grace only bounds a broken run.
  await g.close(WAIT_MS);
  const s = await pending;
  assert.equal(s.status, 200);
  assert.equal(s.text, String(pid));
  assert.throws(() => process.kill(pid, 0));
  const late = await run(g, request(PID_APP));
  assert.equal(late.status, 503);
});

test("a large body that arrives while the script is still loading is read in full", async () => {
  // The daemon stops reading the socket when 256 KiB wait with no reader; the reader that
  // starts after an asynchronous script load must let the rest in (this hung until the
  // socket-timeout once).
  const slow = script(
    "slow-load.mjs",
    `await new Promise((r) => setTimeout(r, 300));
     export function application(environ, start_response) {
       const b = environ["wsgi.input"].read();
       start_response("200 OK", [["Content-Length", String(b.length)]]);
       return [b];
     }`,
  );
  const { g } = group("slowload", { threads: 1, socketTimeout: 10 });
  // The clock runs from the dispatch: a process start on a loaded machine must not count.
  assert.ok(await g.waitReady(WAIT_MS));
  // Patterned: the frames that wait for the reader are copies (the link's reader reuses its
  // buffer), and a copy taken late or overwritten would change the bytes.
  const data = patterned(3 * 1024 * 1024, 7);
  const s = await run(g, request(slow, { method: "POST" }), body(data));
  assert.equal(s.status, 200);
  assert.ok(Buffer.concat(s.chunks).equals(data), "the body came back intact");
});

test("on the shared connection a stalled response and a client that leaves affect only their own requests", async () => {
  const streamer = script(
    "stream-abort.js",
    `exports.application = (e, s) => {
       s("200 OK", [["Content-Type", "application/octet-stream"]]);
       return (async function* () {
         try { for (let i = 0; i < 1000; i++) yield Buffer.alloc(65536, 1); }
         finally { require("fs").writeFileSync(e.QUERY_STRING, "closed"); }
       })();
     };`,
  );
  const upload = script(
    "slow-reader.js",
    `exports.application = async (environ, start_response) => {
       await new Promise((r) => setTimeout(r, 100000));
       start_response("200 OK", []);
       return ["never"];
     };`,
  );
  const { g, log } = group("mux", { threads: 4 });
  assert.ok(await g.waitReady(WAIT_MS));
  const pid = g.pids()[0];
  const marker = path.join(root, "mux-closed");
  // A response whose client never takes more: the process stops producing it...
  const s = sink();
  let received = 0;
  s.write = (c) => { received += c.length; return false; };
  s.drain = () => new Promise(() => {});
  const stalled = g.dispatch(request(streamer, { query: marker }), body(), s);
  // ...and an upload the application never reads: its client is paused at the window.
  const data = Buffer.alloc(4 * 1024 * 1024, 3);
  let paused = 0;
  const b = body(data);
  const start = b.start.bind(b);
  b.start = (cb) => { start(cb); const p = b.pause; b.pause = () => { paused++; p(); }; };
  const u = sink();
  const unread = g.dispatch(request(upload, { method: "POST" }), b, u);
  await waitFor(() => paused >= 1, "the unread upload to be paused");
  await waitFor(() => received > 0, "the stalled response to begin");
  // A process that ignored the client's pushback would keep sending: give it the time to.
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(received < 2 * 1024 * 1024, `the stalled response was limited (${received} bytes)`);
  // The same process still answers other requests (held behind the others, it never would).
  const ok = await run(g, request(PID_APP));
  assert.equal(ok.status, 200);
  assert.equal(ok.text, String(pid));
  // Both clients leave: their requests end, the application sees it, the connection stays.
  for (const x of [s, u]) x.abort();
  await Promise.all([stalled, unread]);
  await waitFor(() => fs.existsSync(marker), "the application's iterator to be closed");
  assert.equal(fs.readFileSync(marker, "utf8"), "closed", "the application's iterator was closed");
  const again = await run(g, request(PID_APP));
  assert.equal(again.text, String(pid));
  assert.deepEqual(g.pids(), [pid]);
  assert.equal(log.lines.filter((l) => /died|Bad response/.test(l)).length, 0, log.lines.join("\n"));
});

test("a request whose environ cannot be encoded fails alone with 500; the next one on the same layout gets every value", async () => {
  const dump = script("dump-enc.wsgi", DUMP);
  const { g, log } = group("enc", { threads: 1 });
  const first = await run(g, request(dump, { extra: ["HTTP_X_A", "a"] }));
  assert.equal(first.status, 200, first.text);
  // Same keys; QUERY_STRING changes before the value that cannot be encoded.
  const failed = await run(g, request(dump, { query: "changed=1", extra: ["HTTP_X_A", Symbol("not a string")] }));
  assert.equal(failed.status, 500);
  assert.ok(log.lines.some((l) => /Request could not be passed to daemon process 'enc'/.test(l)), log.lines.join("\n"));
  // Had the layout kept "changed=1" as sent, the child would be told it is unchanged.
  const next = await run(g, request(dump, { query: "changed=1", extra: ["HTTP_X_A", "a"] }));
  assert.equal(next.status, 200, next.text);
  const env = JSON.parse(next.text);
  assert.equal(env.QUERY_STRING, "changed=1");
  assert.equal(env.HTTP_X_A, "a");
});

test("request-timeout: a request queued behind the stuck one goes to the replacement, not to the stuck process", async () => {
  const hang = script("hang-queued.js", `exports.application = (environ) => { require("fs").writeFileSync(environ.QUERY_STRING, ""); return new Promise(() => {}); };`);
  const { g, log } = group("stuck-queue", { threads: 1, requestTimeout: 1, gracefulTimeout: 1, shutdownTimeout: 1 });
  const warm = await run(g, request(PID_APP));
  assert.equal(warm.status, 200);
  const marker = path.join(root, "stuck-queue.started");
  const hung = run(g, request(hang, { query: marker }));
  await waitFor(() => fs.existsSync(marker), "the hanging request is running");
  // Queued now (the only thread is busy); answered once the stuck process is out of the way.
  const queued = run(g, request(PID_APP));
  assert.equal((await hung).status, 504);
  const s = await queued;
  assert.equal(s.status, 200, s.text);
  assert.notEqual(s.text, warm.text, "answered by the replacement");
  assert.equal(log.lines.filter((l) => /has been recycled \(request timeout\)/.test(l)).length, 1, log.lines.join("\n"));
});

test("maximum-requests: requests arriving while the replacement starts wait for it beyond listen-backlog", async () => {
  const { g } = group("gap", { threads: 1, maximumRequests: 1, listenBacklog: 1 });
  const first = await run(g, request(PID_APP));
  assert.equal(first.status, 200);
  // The first process has had its one request: five at once all wait for the replacements.
  const all = await Promise.all(Array.from({ length: 5 }, () => run(g, request(PID_APP))));
  assert.deepEqual(all.map((s) => s.status), [200, 200, 200, 200, 200], all.map((s) => s.text).join(" | "));
  assert.equal(new Set([first.text, ...all.map((s) => s.text)]).size, 6, "one request per process");
});
