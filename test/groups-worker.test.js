"use strict";
// Worker-thread application groups: real Worker threads behind the SharedArrayBuffer rings.
const { JS_DUMP } = require("./helpers/conformance");
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const crypto = require("node:crypto");
const { ProcessHost } = require("../dist/groups/process-host");
const { InThreadHost } = require("../dist/groups/in-thread-host");
const { WorkerGroup } = require("../dist/groups/worker-group");
const { recordingSink: sink } = require("./helpers/sinks");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-groups-"));
function script(name, source) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

// The conformance dump script (shared/conformance/README.md), as the replay uses it.
const DUMP = script("dump.wsgi", JS_DUMP("myapp"));

const THREAD = script(
  "thread.js",
  `const { threadId } = require("worker_threads");
exports.application = (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [String(threadId)];
};`,
);

const SLOW = script(
  "slow.js",
  `exports.application = async (environ, start_response) => {
  await new Promise((r) => setTimeout(r, Number(environ.QUERY_STRING || 150)));
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return ["slow"];
};`,
);

const CRASH = script(
  "crash.js",
  `exports.application = (environ, start_response) => {
  if (environ.QUERY_STRING === "exit") process.exit(3);
  if (environ.QUERY_STRING === "throw") throw new Error("in-request failure");
  if (environ.QUERY_STRING === "reject") setTimeout(() => Promise.reject(new Error("late rejection")), 5);
  else setTimeout(() => { throw new Error("boom outside any request"); }, 5);
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return ["scheduled"];
};`,
);

const HASH = script(
  "hash.js",
  `const crypto = require("crypto");
exports.application = async (environ, start_response) => {
  const h = crypto.createHash("sha256");
  let n = 0;
  for await (const chunk of environ["wsgi.input"]) { h.update(chunk); n += chunk.length; }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [n + " " + h.digest("hex")];
};`,
);

const STREAM = script(
  "stream.js",
  `exports.application = (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  const errors = environ["wsgi.errors"];
  return (function* () {
    for (let i = 0; i < 64; i++) {
      errors.write("produced " + i + "\\n");
      yield Buffer.alloc(65536, i);
    }
  })();
};`,
);

const CONCURRENT = script(
  "concurrent.js",
  `let active = 0, peak = 0;
exports.application = async (environ, start_response) => {
  active++; peak = Math.max(peak, active);
  // Waits for the others (bounded, so a group that ran them one at a time answers "1", not hangs).
  const until = Date.now() + 10000;
  while (active < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  const seen = peak;
  active--;
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [String(seen)];
};`,
);

const ABORTABLE = script(
  "abortable.js",
  `exports.application = (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  const errors = environ["wsgi.errors"];
  let i = 0;
  return {
    [Symbol.asyncIterator]() { return this; },
    async next() { await new Promise((r) => setTimeout(r, i === 0 ? 0 : 50)); return { done: i > 100, value: "chunk " + i++ + "\\n" }; },
    close() { errors.write("closed after " + i + "\\n"); errors.flush(); },
  };
};`,
);

function memLog() {
  const lines = [];
  return { lines, log: (level, module, message) => lines.push(`[${module}:${level}] ${message}`), close() {} };
}

function request(scriptFile, group, over = {}) {
  const query = over.query ?? "";
  const method = over.method ?? "GET";
  return {
    script: scriptFile,
    callable: over.callable ?? "application",
    applicationGroup: group,
    processGroup: "",
    method,
    environ: [
      "REQUEST_METHOD", method,
      "SCRIPT_NAME", "/app",
      "PATH_INFO", "/x y/é",
      "QUERY_STRING", query,
      "SERVER_NAME", "localhost",
      "SERVER_PORT", "80",
      "SERVER_PROTOCOL", "HTTP/1.1",
      "REMOTE_ADDR", "127.0.0.1",
      "HTTP_HOST", "localhost",
      "HTTP_X_WEIRD", "ünïcode ☃",
      "mod_wsgi.application_group", group,
      "mod_wsgi.process_group", "",
      ...(over.extraEnviron ?? []),
    ],
    urlScheme: "http",
    multithread: true,
    multiprocess: false,
    runOnce: false,
    bodyLimit: 0,
    logPrefix: "[client 127.0.0.1:5000] ",
  };
}

function body(data = null, { chunked = false, chunk = 65536 } = {}) {
  let paused = false;
  let resume = null;
  return {
    declaredLength: data === null || chunked ? -1 : data.length,
    chunked: data !== null && chunked,
    start(onChunk) {
      if (data === null) return onChunk(new Uint8Array(0), true);
      let at = 0;
      const step = () => {
        while (!paused && at < data.length) {
          const n = Math.min(chunk, data.length - at);
          const part = Buffer.from(data.subarray(at, at + n));
          at += n;
          onChunk(part, at >= data.length);
          part.fill(0); // the front end reuses its chunk memory
          if (at < data.length) return setImmediate(step);
        }
        if (paused) resume = step;
      };
      setImmediate(step);
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      if (resume) {
        const r = resume;
        resume = null;
        setImmediate(r);
      }
    },
  };
}

async function run(host, req, b = body()) {
  const s = sink();
  await host.dispatch(req, b, s);
  return s;
}

// Generous: a wait ends as soon as its condition holds; the bound only stops a broken run (a
// worker thread starts slowly on a loaded machine).
const waitFor = async (cond, ms = 60_000) => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("the dump app sees the same environ in a worker group as in the calling thread", async () => {
  const log = memLog();
  const host = new ProcessHost({ log, threads: 2 });
  const local = new InThreadHost(log);
  try {
    for (const callable of ["application", "handle_request"]) {
      const payload = Buffer.from("name=value&x=ü");
      const over = { callable, method: "POST", query: "a=1&b=%20" };
      const inWorker = await run(host, request(DUMP, "localhost|/app", over), body(payload));
      const inThread = await run(local, request(DUMP, "localhost|/app", over), body(payload));
      assert.equal(inWorker.head.status, 200);
      assert.deepEqual(inWorker.head, inThread.head);
      const a = JSON.parse(inWorker.body);
      const b = JSON.parse(inThread.body);
      assert.deepEqual(a, b);
      assert.equal(a["wsgi.input.length"], payload.length);
      assert.equal(a["@callable"], callable);
      assert.equal(a.HTTP_X_WEIRD, "ünïcode ☃");
      assert.equal(a["mod_wsgi.application_group"], "localhost|/app");
    }
  } finally {
    await host.close(1000);
  }
});

test("in the calling thread, a loaded application without a body answers before dispatch returns", async () => {
  const host = new InThreadHost(memLog());
  const first = sink();
  const loading = host.dispatch(request(THREAD, ""), body(), first);
  assert.ok(loading instanceof Promise, "the first request waits for the script to load");
  await loading;
  assert.equal(first.head.status, 200);

  const s = sink();
  assert.equal(host.dispatch(request(THREAD, ""), body(), s), undefined, "no promise: the response is over");
  assert.equal(s.head.status, 200);
  assert.equal(s.body.toString(), String(require("node:worker_threads").threadId));

  // A body still has to arrive first, and an application that streams is not over yet.
  const withBody = sink();
  const p = host.dispatch(request(THREAD, "", { method: "POST" }), body(Buffer.from("x")), withBody);
  assert.ok(p instanceof Promise);
  await p;
  assert.equal(withBody.head.status, 200);
  const streamed = sink();
  const q = host.dispatch(request(STREAM, ""), body(), streamed);
  assert.ok(q instanceof Promise, "an iterator is consumed asynchronously");
  await q;
  assert.equal(streamed.head.status, 200);
});

test("worker groups run in their own thread; %{GLOBAL} runs in the calling thread", async () => {
  const host = new ProcessHost({ log: memLog() });
  try {
    const a = await run(host, request(THREAD, "localhost|/a"));
    const b = await run(host, request(THREAD, "localhost|/b"));
    const g = await run(host, request(THREAD, ""));
    const { threadId } = require("node:worker_threads");
    assert.equal(g.body.toString(), String(threadId));
    assert.notEqual(a.body.toString(), String(threadId));
    assert.notEqual(a.body.toString(), b.body.toString(), "one isolate per group");
    assert.equal(a.body.toString(), String(host.group("localhost|/a").threadId));
  } finally {
    await host.close(1000);
  }
});

test("a process starts at most maxGroups application groups; a request for one more is a 500, logged", async () => {
  const log = memLog();
  const host = new ProcessHost({ log, maxGroups: 2 });
  try {
    assert.equal((await run(host, request(THREAD, "one"))).head.status, 200);
    assert.equal((await run(host, request(THREAD, "two"))).head.status, 200);
    const third = await run(host, request(THREAD, "three"));
    assert.equal(third.head.status, 500);
    assert.ok(log.lines.some((l) => l.includes("Unable to create application group 'three': this process already runs 2 application groups")), log.lines.join("\n"));
    // The groups it has keep serving; %{GLOBAL} is not a worker group and is never refused.
    assert.equal((await run(host, request(THREAD, "one"))).head.status, 200);
    assert.equal((await run(host, request(THREAD, ""))).head.status, 200);
  } finally {
    await host.close(1000);
  }
});

test("a hook call abandoned at its timeout leaves nothing waiting in the group (a hook that never settles leaked one entry per request)", async () => {
  const { callHookWithin } = require("../dist/app/hooks");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-hook-"));
  const script = path.join(dir, "auth.js");
  fs.writeFileSync(script, "exports.check_password = () => new Promise(() => {});\n");
  const log = memLog();
  const host = new ProcessHost({ log });
  try {
    const call = { fn: "check_password", script, environ: {}, args: ["u", "p"], logPrefix: "", https: false };
    for (let i = 0; i < 3; i++) assert.deepEqual(await callHookWithin(host, "hooks", call, 50, log), { kind: "failed" });
    assert.equal(host.group("hooks").hooksWaiting, 0);
    assert.ok(log.lines.some((l) => l.includes("Gave up waiting for check_password()")));
  } finally {
    await host.close(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a full queue answers 503 with Apache's page and keeps no more than it admitted", async () => {
  const group = new WorkerGroup({ name: "q", log: memLog(), threads: 1, queueCapacity: 1 });
  try {
    const sinks = [sink(), sink(), sink()];
    const done = sinks.map((s) => group.dispatch(request(SLOW, "q", { query: "150" }), body(), s));
    assert.equal(group.inFlight, 2);
    await done[2];
    assert.equal(sinks[2].head.status, 503);
    assert.match(sinks[2].body.toString(), /<title>503 Service Unavailable<\/title>/);
    await Promise.all(done);
    assert.equal(sinks[0].head.status, 200);
    assert.equal(sinks[1].head.status, 200);
    assert.equal(group.inFlight, 0);
  } finally {
    await group.close(1000);
  }
});

test("an exception inside a request is a 500 and the worker stays", async () => {
  const log = memLog();
  const host = new ProcessHost({ log });
  try {
    const before = (await run(host, request(THREAD, "g"))).body.toString();
    const failed = await run(host, request(CRASH, "g", { query: "throw" }));
    assert.equal(failed.head.status, 500);
    assert.ok(log.lines.some((l) => l.includes("in-request failure")), "stack logged");
    assert.equal((await run(host, request(THREAD, "g"))).body.toString(), before);
  } finally {
    await host.close(1000);
  }
});

test("an exception thrown outside a request is logged; the worker, and a request in flight on it, go on", async () => {
  const log = memLog();
  const host = new ProcessHost({ log, threads: 4 });
  try {
    const first = (await run(host, request(THREAD, "c"))).body.toString();
    const slow = run(host, request(SLOW, "c", { query: "300" }));
    const crash = await run(host, request(CRASH, "c"));
    assert.equal(crash.head.status, 200);
    await waitFor(() => log.lines.some((l) => l.includes("boom outside any request")));
    assert.ok(log.lines.some((l) => l.includes("Uncaught exception in application group 'c'")), log.lines.join("\n"));
    assert.equal((await slow).text, "slow", "the request in flight was not cut");
    const next = await run(host, request(THREAD, "c"));
    assert.equal(next.head.status, 200);
    assert.equal(next.body.toString(), first, "the same thread");
    assert.ok(!log.lines.some((l) => l.includes("died")), log.lines.join("\n"));
  } finally {
    await host.close(1000);
  }
});

test("a promise rejected with no handler is logged; the worker goes on", async () => {
  const log = memLog();
  const host = new ProcessHost({ log });
  try {
    const first = (await run(host, request(THREAD, "r"))).body.toString();
    const leak = await run(host, request(CRASH, "r", { query: "reject" }));
    assert.equal(leak.head.status, 200);
    await waitFor(() => log.lines.some((l) => l.includes("late rejection")));
    assert.ok(log.lines.some((l) => l.includes("Unhandled promise rejection in application group 'r'")), log.lines.join("\n"));
    assert.equal((await run(host, request(THREAD, "r"))).body.toString(), first, "the same thread");
  } finally {
    await host.close(1000);
  }
});

test("process.exit in a request: that request gets 500, a queued one runs on the replacement", async () => {
  const log = memLog();
  const group = new WorkerGroup({ name: "x", log, threads: 1 });
  try {
    const s1 = sink();
    const s2 = sink();
    await Promise.all([group.dispatch(request(CRASH, "x", { query: "exit" }), body(), s1), group.dispatch(request(THREAD, "x"), body(), s2)]);
    assert.equal(s1.head.status, 500);
    assert.equal(s2.head.status, 200);
    assert.ok(log.lines.some((l) => l.includes("exit code 3")), log.lines.join("\n"));
  } finally {
    await group.close(1000);
  }
});

test("a POST body of several MiB arrives intact (spooled, read by descriptor), chunked too", async () => {
  const host = new ProcessHost({ log: memLog() });
  try {
    const data = crypto.randomBytes(5 * 1024 * 1024 + 17);
    const want = `${data.length} ${crypto.createHash("sha256").update(data).digest("hex")}`;
    const a = await run(host, request(HASH, "b", { method: "POST" }), body(data));
    assert.equal(a.body.toString(), want);
    const b = await run(host, request(HASH, "b", { method: "POST" }), body(data, { chunked: true }));
    assert.equal(b.body.toString(), want);
    const small = Buffer.from("x".repeat(70000));
    const c = await run(host, request(HASH, "b", { method: "POST" }), body(small));
    assert.equal(c.body.toString(), `${small.length} ${crypto.createHash("sha256").update(small).digest("hex")}`);
  } finally {
    await host.close(1000);
  }
});

test("LimitRequestBody is enforced before the hand-off (413)", async () => {
  const host = new ProcessHost({ log: memLog() });
  try {
    const req = { ...request(HASH, "l", { method: "POST" }), bodyLimit: 10 };
    const s = await run(host, req, body(Buffer.alloc(100)));
    assert.equal(s.head.status, 413);
  } finally {
    await host.close(1000);
  }
});

test("a streamed response follows the sink's backpressure (the worker does not run ahead)", async () => {
  const log = memLog();
  const group = new WorkerGroup({ name: "s", log, window: 128 * 1024 });
  try {
    const s = sink({ writable: false });
    const done = group.dispatch(request(STREAM, "s"), body(), s);
    await waitFor(() => s.chunks.length > 0);
    await new Promise((r) => setTimeout(r, 150));
    const produced = log.lines.filter((l) => l.includes("produced")).length;
    assert.ok(produced <= 6, `produced ${produced} chunks while the client was stalled`);
    assert.equal(s.chunks.length, 1, "no write after a refused one until drain");
    s.release();
    await done;
    assert.equal(s.body.length, 64 * 65536);
    for (let i = 0; i < 64; i++) assert.equal(s.body[i * 65536 + 100], i);
    assert.ok(s.ended);
  } finally {
    await group.close(1000);
  }
});

test("threads=4 lets an async application handle four requests at once", async () => {
  const group = new WorkerGroup({ name: "t", log: memLog(), threads: 4 });
  try {
    // Each request answers with how many were running at once when it finished waiting.
    const sinks = await Promise.all([1, 2, 3, 4].map(() => run(group, request(CONCURRENT, "t"))));
    assert.deepEqual(sinks.map((s) => s.body.toString()), ["4", "4", "4", "4"]);
  } finally {
    await group.close(1000);
  }
});

test("a client abort reaches the worker: the result's close() runs", async () => {
  const log = memLog();
  const group = new WorkerGroup({ name: "a", log });
  try {
    const s = sink();
    const done = group.dispatch(request(ABORTABLE, "a"), body(), s);
    await waitFor(() => s.chunks.length >= 2);
    s.abort();
    await done;
    await waitFor(() => log.lines.some((l) => l.includes("closed after")));
    assert.ok(!s.ended);
    assert.equal(group.inFlight, 0);
  } finally {
    await group.close(1000);
  }
});

test("close(grace) lets requests in flight finish, then answers 503", async () => {
  const host = new ProcessHost({ log: memLog() });
  const s = sink();
  const inflight = host.dispatch(request(SLOW, "d", { query: "100" }), body(), s);
  await new Promise((r) => setTimeout(r, 20));
  // close() returns once the request is done: the grace only bounds a broken run (the worker
  // thread may still be starting on a loaded machine).
  await host.close(60_000);
  await inflight;
  assert.equal(s.head.status, 200);
  const after = await run(host, request(SLOW, "d"));
  assert.equal(after.head.status, 503);
});

test("preload loads the script in the group's isolate and reports load errors", async () => {
  const host = new ProcessHost({ log: memLog() });
  try {
    await host.preload(THREAD, "application", "p");
    await assert.rejects(host.preload(path.join(dir, "missing.js"), "application", "p"), /not found/);
  } finally {
    await host.close(1000);
  }
});

test("dispatchDetached starts a request without a body with no promise, and one with a body with the promise it reads the body under", async () => {
  const log = memLog();
  const host = new ProcessHost({ log });
  try {
    const s = sink();
    assert.equal(host.dispatchDetached(request(THREAD, "det"), body(), s), undefined);
    await waitFor(() => s.ended);
    assert.equal(s.head.status, 200);
    assert.equal(host.group("det").inFlight, 0);
    const data = Buffer.from("posted");
    const posted = sink();
    const p = host.dispatchDetached(request(HASH, "det", { method: "POST" }), body(data), posted);
    assert.ok(p instanceof Promise);
    await p;
    assert.equal(Buffer.concat(posted.chunks).toString(), `6 ${crypto.createHash("sha256").update(data).digest("hex")}`);
    // %{GLOBAL}: the in-thread host, answered before it returns once the script is loaded.
    await run(host, request(THREAD, ""));
    const g = sink();
    assert.equal(host.dispatchDetached(request(THREAD, ""), body(), g), undefined);
    assert.equal(g.head.status, 200);
    assert.equal(host.group("det").inFlight, 0);
  } finally {
    await host.close(1000);
  }
  const late = sink();
  assert.equal(host.group("det").dispatchDetached(request(THREAD, "det"), body(), late), undefined);
  assert.equal(late.head.status, 503);
});

test("a request whose environ cannot be encoded fails alone with 500; the next one on the same layout gets every value", async () => {
  const log = memLog();
  const host = new ProcessHost({ log });
  try {
    const first = await run(host, request(DUMP, "enc"));
    assert.equal(first.head.status, 200);
    // Same keys; QUERY_STRING changes before the value that cannot be encoded.
    const bad = request(DUMP, "enc", { query: "changed=1" });
    bad.environ[bad.environ.indexOf("HTTP_X_WEIRD") + 1] = Symbol("not a string");
    const failed = await run(host, bad);
    assert.equal(failed.head.status, 500);
    assert.equal(host.group("enc").inFlight, 0);
    assert.ok(log.lines.some((l) => /Request could not be passed to application group 'enc'/.test(l)), log.lines.join("\n"));
    // Had the layout kept "changed=1" as sent, the worker would be told it is unchanged.
    const next = await run(host, request(DUMP, "enc", { query: "changed=1" }));
    assert.equal(next.head.status, 200);
    const env = JSON.parse(next.body);
    assert.equal(env.QUERY_STRING, "changed=1");
    assert.equal(env.HTTP_X_WEIRD, "ünïcode ☃");
  } finally {
    await host.close(1000);
  }
});

const NEVER = script(
  "never.js",
  `exports.application = (environ, start_response) => {
  if (environ.QUERY_STRING === "ok") {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  }
  return new Promise(() => {}); // a long poll whose event never comes
};`,
);

test("a request whose client left frees its slot even when the application never settles", { timeout: 20_000 }, async () => {
  const group = new WorkerGroup({ name: "n", log: memLog(), threads: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const s = sink();
      const done = group.dispatch(request(NEVER, "n"), body(), s);
      // Under way in the worker (the one slot taken) before the client goes away.
      await new Promise((r) => setTimeout(r, 100));
      s.abort();
      await done;
    }
    assert.equal(group.inFlight, 0);
    const ok = sink();
    await group.dispatch(request(NEVER, "n", { query: "ok" }), body(), ok);
    assert.equal(ok.head.status, 200);
    assert.equal(ok.text, "ok");
  } finally {
    await group.close(1000);
  }
});

const BIG_HEAD = script(
  "big-head.js",
  `exports.application = (environ, start_response) => {
  const [headerKb, bodyKb] = environ.QUERY_STRING.split(",").map(Number);
  start_response("200 OK", [["Content-Type", "text/plain"], ["X-Big", "h".repeat(headerKb * 1024)]]);
  return [Buffer.alloc(bodyKb * 1024, 98)];
};`,
);

test("a response head too large for the response ring: 500 and a log line; one that fits goes out with its body", { timeout: 30_000 }, async () => {
  const log = memLog();
  const group = new WorkerGroup({ name: "h", log, threads: 2 });
  try {
    const tooBig = sink();
    await group.dispatch(request(BIG_HEAD, "h", { query: "600,1" }), body(), tooBig);
    assert.equal(tooBig.head.status, 500);
    assert.ok(log.lines.some((l) => l.includes("response headers too large for application group 'h'")), log.lines.join("\n"));
    // Near the limit, with a body of several frames: the head travels in a frame of its own.
    const fits = sink();
    await group.dispatch(request(BIG_HEAD, "h", { query: "160,400" }), body(), fits);
    assert.equal(fits.head.status, 200);
    assert.equal(fits.headers.find(([n]) => n === "X-Big")[1].length, 160 * 1024);
    assert.equal(fits.size, 400 * 1024);
    assert.ok(fits.ended);
  } finally {
    await group.close(1000);
  }
});

test("bodies still arriving take no thread or queue place, but no more of them at once than the group holds requests", { timeout: 20_000 }, async () => {
  const group = new WorkerGroup({ name: "c", log: memLog(), threads: 1, queueCapacity: 1 });
  // A body that never ends: its request is collecting for good.
  const trickle = () => ({ declaredLength: 10, chunked: false, start() {}, pause() {}, resume() {} });
  try {
    const slow = [sink(), sink()];
    for (const s of slow) group.dispatch(request(NEVER, "c", { method: "POST" }), trickle(), s);
    // A third body is refused at once; a request without one still goes to the worker.
    const third = sink();
    await group.dispatch(request(NEVER, "c", { method: "POST" }), trickle(), third);
    assert.equal(third.head.status, 503);
    const ok = sink();
    await group.dispatch(request(NEVER, "c", { query: "ok" }), body(), ok);
    assert.equal(ok.head.status, 200);
    for (const s of slow) s.abort();
  } finally {
    await group.close(1000);
  }
});
