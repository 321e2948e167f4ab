"use strict";
// The memory a streamed upload costs the server: the spool's slabs are reused and bounded, the
// socket is paused while the disk lags, and a 64 MiB upload through the real front ends
// allocates no ArrayBuffer per chunk on its way to the spool file.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const { SpoolWriter } = require("../dist/app/spool-writer");
const { writeSite, startServer } = require("./helpers/raw-http");

const KIB = 1024;
const MIB = 1024 * KIB;

/** A disk whose writes complete only when the test says so; records what was written. */
function slowDisk() {
  const disk = { written: [], pending: [], calls: 0 };
  disk.writev = (fd, views, cb) => {
    disk.calls++;
    // Copy now: the slabs are reused after the callback.
    const bytes = Buffer.concat(views);
    disk.pending.push(() => {
      disk.written.push(bytes);
      cb(null, bytes.length);
    });
  };
  disk.complete = () => {
    const all = disk.pending.splice(0);
    for (const done of all) done();
    return all.length;
  };
  return disk;
}

function flow() {
  const f = { paused: false, pauses: 0, resumes: 0 };
  f.pause = () => {
    assert.equal(f.paused, false, "paused twice");
    f.paused = true;
    f.pauses++;
  };
  f.resume = () => {
    assert.equal(f.paused, true, "resumed while not paused");
    f.paused = false;
    f.resumes++;
  };
  return f;
}

test("spool writer: a short write is resumed where it stopped, across slab boundaries", async () => {
  const body = flow();
  const written = [];
  let calls = 0;
  // Writes a little over half of what it is given (an odd count, so a resume lands inside a slab).
  const writev = (fd, views, cb) => {
    calls++;
    const all = Buffer.concat(views);
    const n = all.length > 1 ? Math.floor(all.length / 2) + 1 : all.length;
    written.push(Buffer.from(all.subarray(0, n)));
    setImmediate(() => cb(null, n));
  };
  const w = new SpoolWriter(-1, body, (e) => assert.fail(e), { slabSize: 16 * KIB, maxSlabs: 3, headroom: 16 * KIB, writev });
  const input = Buffer.alloc(200 * KIB);
  for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >>> 8)) & 255;
  for (let at = 0; at < input.length; at += 10 * KIB + 3) {
    while (body.paused) await new Promise((r) => setImmediate(r));
    w.push(input.subarray(at, Math.min(at + 10 * KIB + 3, input.length)));
  }
  await new Promise((done) => w.finish(done));
  assert.ok(calls > 20, `short writes were resumed (${calls} calls)`);
  assert.ok(Buffer.concat(written).equals(input), "the file holds the body, in order");
});

test("spool writer: options that would never let the body resume are refused", () => {
  const body = flow();
  assert.throws(() => new SpoolWriter(-1, body, () => {}, { slabSize: 16 * KIB, maxSlabs: 2, headroom: 64 * KIB }), { code: "E_SPOOL_OPTIONS" });
  assert.throws(() => new SpoolWriter(-1, body, () => {}, { slabSize: 0 }), { code: "E_SPOOL_OPTIONS" });
});

test("spool writer: a slow disk pauses the body; the slabs are reused, never more than the set", () => {
  const disk = slowDisk();
  const body = flow();
  const errors = [];
  const w = new SpoolWriter(-1, body, (e) => errors.push(e), { slabSize: 64 * KIB, maxSlabs: 4, headroom: 128 * KIB, writev: disk.writev });
  const expected = [];
  let n = 0;
  // 16 MiB in chunks of varying size, as a client faster than the disk sends them: each time
  // the writer pauses the body, the disk catches up.
  for (let sent = 0; sent < 16 * MIB; ) {
    assert.equal(body.paused, false, "no chunk arrives while the body is paused");
    const size = [100 * KIB, 7, 64 * KIB, 128 * KIB, 33 * KIB][n % 5];
    const chunk = Buffer.alloc(size, n++ % 251);
    expected.push(Buffer.from(chunk));
    w.push(chunk);
    chunk.fill(0); // lent for the call only
    sent += size;
    while (body.paused) assert.ok(disk.complete() > 0, "paused with no write outstanding");
  }
  let done = false;
  w.finish(() => (done = true));
  while (disk.complete() > 0);
  assert.equal(done, true);
  assert.deepEqual(errors, []);
  assert.ok(body.pauses > 10, `paused ${body.pauses} times`);
  assert.equal(body.resumes, body.pauses);
  assert.equal(w.extraSlabs, 0, "no slab beyond the set");
  assert.ok(w.peakHeld <= 4 * 64 * KIB, `held at most the slabs: ${w.peakHeld}`);
  assert.deepEqual(Buffer.concat(disk.written), Buffer.concat(expected));
});

test("spool writer: a chunk larger than the free room is taken whole (extra slabs, dropped after their write)", () => {
  const disk = slowDisk();
  const body = flow();
  const w = new SpoolWriter(-1, body, () => {}, { slabSize: 16 * KIB, maxSlabs: 2, headroom: 16 * KIB, writev: disk.writev });
  const big = Buffer.alloc(100 * KIB, 7);
  w.push(big);
  assert.equal(body.paused, true);
  assert.ok(w.extraSlabs >= 5, `extra slabs: ${w.extraSlabs}`);
  let done = false;
  w.finish(() => (done = true));
  while (disk.complete() > 0);
  assert.equal(done, true);
  assert.equal(body.paused, false);
  assert.deepEqual(Buffer.concat(disk.written), big);
});

test("spool writer: a write error is reported once and nothing more is written", () => {
  const body = flow();
  const errors = [];
  let calls = 0;
  const writev = (fd, views, cb) => {
    calls++;
    setImmediate(() => cb(Object.assign(new Error("disk full"), { code: "ENOSPC" }), 0));
  };
  const w = new SpoolWriter(-1, body, (e) => errors.push(e.code), { slabSize: 16 * KIB, maxSlabs: 2, headroom: 1, writev });
  w.push(Buffer.alloc(10));
  return new Promise((resolve) => {
    setImmediate(() => {
      w.push(Buffer.alloc(10));
      setImmediate(() => {
        assert.deepEqual(errors, ["ENOSPC"]);
        assert.equal(calls, 1);
        resolve();
      });
    });
  });
});

// Counts the body and keeps nothing, as bench/apps/discard.js.
const DISCARD = `"use strict";
exports.application = async (environ, start_response) => {
  let received = 0;
  for await (const chunk of environ["wsgi.input"]) received += chunk.length;
  const body = Buffer.from(String(received));
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;

function upload(port, urlPath, total) {
  const chunk = Buffer.alloc(MIB, "u");
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method: "POST", agent: false, headers: { "content-length": String(total) } }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
    });
    req.on("error", reject);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

for (const frontEnd of ["uws", "node"]) {
  test(`64 MiB upload through the ${frontEnd} front end: spooled through the reused slabs, no ArrayBuffer per chunk`, async () => {
    const site = writeSite("nodewsgi-upload-", ({ work }) => ({
      files: { "discard.js": DISCARD },
      config: `LimitRequestBody 0\n<Directory "${work}">\n    Require all granted\n</Directory>\nWSGIScriptAlias /upload "${work}/discard.js" application-group=%{GLOBAL}\n`,
    }));
    // The disk: every write is sampled (the memory ArrayBuffers hold in this process, server
    // and client alike) and completes a little later, so the client is faster than the disk.
    const writers = new Set();
    const push = SpoolWriter.prototype.push;
    SpoolWriter.prototype.push = function (chunk) {
      writers.add(this);
      return push.call(this, chunk);
    };
    const realWritev = fs.writev;
    const realWrite = fs.write;
    let peakArrayBuffers = 0;
    let writes = 0;
    const sample = () => {
      writes++;
      peakArrayBuffers = Math.max(peakArrayBuffers, process.memoryUsage().arrayBuffers);
    };
    fs.writev = (fd, views, pos, cb) => {
      sample();
      setTimeout(() => realWritev(fd, views, pos, cb), 1);
    };
    fs.write = (...args) => {
      sample();
      setTimeout(() => realWrite(...args), 1);
    };
    const { server, port } = await startServer(frontEnd, site);
    try {
      const small = await upload(port, "/upload", 64 * KIB);
      assert.deepEqual(small, { status: 200, body: String(64 * KIB) });
      const baseline = process.memoryUsage().arrayBuffers;
      const total = 64 * MIB;
      const r = await upload(port, "/upload", total);
      assert.deepEqual(r, { status: 200, body: String(total) });
      assert.ok(writes > 0, "the body was spooled");
      // Without the slabs each chunk was copied into a new ArrayBuffer, and V8 collects young
      // ArrayBuffers only once 32 MiB of them have piled up. (node:http reads the socket into
      // a new Buffer each time: that front end's chunks cost the same before they reach us.)
      const grew = peakArrayBuffers - baseline;
      if (frontEnd === "uws") assert.ok(grew < 12 * MIB, `ArrayBuffer memory grew by ${(grew / MIB).toFixed(1)} MiB while the body was spooled`);
      assert.equal(writers.size, 1);
      const [w] = writers;
      assert.equal(w.extraSlabs, 0, "no slab beyond the set");
      assert.ok(w.peakHeld <= 2 * MIB, `held at most the slabs: ${w.peakHeld}`);
      assert.ok(w.pauses > 0, "the socket was paused while the disk lagged");
    } finally {
      fs.writev = realWritev;
      fs.write = realWrite;
      SpoolWriter.prototype.push = push;
      await server.stop(1000);
      fs.rmSync(site.work, { recursive: true, force: true });
    }
  });
}

test("async iteration of a spooled body takes a turn of the event loop per chunk", async () => {
  const { createInput, borrowedFileBody } = require("../dist/app/input");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-iter-")), "body");
  fs.writeFileSync(file, Buffer.alloc(4 * MIB, "b"));
  const fd = fs.openSync(file, "r");
  try {
    let chunks = 0;
    let bytes = 0;
    let seen = 0;
    for await (const c of createInput(borrowedFileBody(fd, 4 * MIB))) {
      chunks++;
      bytes += c.length;
      // Another turn's work runs between chunks: an immediate queued now has run by the next one.
      if (chunks > 1) assert.equal(seen, chunks - 1, "an immediate ran between two chunks");
      setImmediate(() => seen++);
    }
    assert.equal(bytes, 4 * MIB);
    assert.ok(chunks > 1);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

/** A RequestBody double that delivers `chunks` one per immediate (ignoring pause). */
function bodyOf(chunks) {
  return {
    declaredLength: chunks.reduce((n, c) => n + c.length, 0),
    chunked: false,
    start(onChunk) {
      let i = 0;
      const next = () => {
        if (i >= chunks.length) return;
        const c = chunks[i++];
        onChunk(c, i === chunks.length);
        setImmediate(next);
      };
      setImmediate(next);
    },
    pause() {},
    resume() {},
  };
}

function isOpen(fd) {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

test("collectBody: a spool write error rejects the body and closes the spool file", async () => {
  const { collectBody } = require("../dist/app/input");
  let fd = -1;
  const writev = (f, views, cb) => {
    fd = f;
    setImmediate(() => cb(Object.assign(new Error("no space left"), { code: "ENOSPC" }), 0));
  };
  const chunks = Array.from({ length: 8 }, () => Buffer.alloc(64 * KIB, 1));
  const open = await collectBody(bodyOf(chunks), { limit: 0, spoolThreshold: 100 * KIB, spool: { writev } }).then(
    () => "resolved",
    (err) => (err.code === "ENOSPC" ? isOpen(fd) : String(err)),
  );
  assert.ok(fd >= 0, "the body was being spooled");
  assert.equal(open, false, "the spool file is closed when the rejection is seen");
});

test("collectBody: a client gone mid-spool rejects once the write in flight has returned and the spool file is closed", async () => {
  const { collectBody } = require("../dist/app/input");
  let fd = -1;
  let finishWrite = null;
  const writev = (f, views, cb) => {
    fd = f;
    finishWrite = () => fs.writev(f, views, null, cb);
  };
  const ac = new AbortController();
  const chunks = Array.from({ length: 8 }, () => Buffer.alloc(64 * KIB, 1));
  let outcome = null;
  const p = collectBody(bodyOf(chunks), { limit: 0, spoolThreshold: 100 * KIB, signal: ac.signal, spool: { writev } }).then(
    () => (outcome = "resolved"),
    (err) => (outcome = { code: err.code, open: isOpen(fd) }),
  );
  while (finishWrite === null) await new Promise((r) => setImmediate(r));
  ac.abort();
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(outcome, null, "not settled under the write in flight");
  assert.equal(isOpen(fd), true, "not closed under the write in flight");
  finishWrite();
  await p;
  assert.deepEqual(outcome, { code: "E_BODY_ABORTED", open: false }, "rejected after the close");
});
