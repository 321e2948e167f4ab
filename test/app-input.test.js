"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { collectBody, createInput, memoryBody } = require("../dist/app/input");
const { buildEnviron, fileWrapper } = require("../dist/app/environ");
const { WsgiErrors, clientPrefix } = require("../dist/app/errors-stream");

/** A RequestBody double delivering `chunks` asynchronously, reusing one scratch buffer. */
function fakeBody(chunks, { declaredLength = -1, chunked = declaredLength < 0 } = {}) {
  const scratch = Buffer.alloc(1 << 20);
  const body = {
    declaredLength,
    chunked,
    paused: 0,
    started: false,
    start(onChunk) {
      assert.equal(body.started, false, "start is called once");
      body.started = true;
      let i = 0;
      const next = () => {
        if (i >= chunks.length) return;
        const c = Buffer.from(chunks[i]);
        c.copy(scratch);
        const view = scratch.subarray(0, c.length);
        i++;
        onChunk(view, i === chunks.length);
        view.fill(0x2a); // the front end reuses its memory: collectBody must have copied
        setImmediate(next);
      };
      setImmediate(next);
    },
    pause() {
      body.paused++;
    },
    resume() {},
  };
  return body;
}

test("small bodies are collected in memory; read/readline/readlines follow WSGI", async () => {
  const buf = await collectBody(fakeBody(["line one\nli", "ne two\n", "tail"]), { limit: 0, spoolThreshold: 1024 });
  assert.equal(buf.length, 22);
  const input = createInput(buf);
  assert.equal(input.readline().toString(), "line one\n");
  assert.equal(input.readline(3).toString(), "lin");
  assert.equal(input.readline().toString(), "e two\n");
  assert.equal(input.read(2).toString(), "ta");
  assert.equal(input.read().toString(), "il");
  assert.equal(input.read().length, 0);
  assert.equal(input.readline().length, 0);

  const again = createInput(buf);
  assert.deepEqual(again.readlines().map(String), ["line one\n", "line two\n", "tail"]);
  assert.deepEqual(createInput(buf).readlines(5).map(String), ["line one\n"]);
  assert.deepEqual([...createInput(buf)].map(String), ["line one\n", "line two\n", "tail"]);
  buf.dispose();
});

test("empty body", async () => {
  const buf = await collectBody(fakeBody([""]), { limit: 10, spoolThreshold: 1024 });
  assert.equal(createInput(buf).read().length, 0);
});

test("large bodies are spooled to an unlinked temp file and read back exactly", async () => {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-spool-"));
  const parts = [];
  for (let i = 0; i < 40; i++) parts.push(Buffer.alloc(1000, 65 + (i % 26)));
  parts.push(Buffer.from("\nend"));
  const expected = Buffer.concat(parts);
  const body = fakeBody(parts);
  const buf = await collectBody(body, { limit: 0, spoolThreshold: 4096, tmpDir });
  assert.equal(fs.readdirSync(tmpDir).length, 0, "spool file is unlinked");
  // When the socket is paused (the spool's slabs are full): test/upload-memory.test.js.
  assert.equal(buf.length, expected.length);
  const input = createInput(buf);
  assert.deepEqual(input.read(10), expected.subarray(0, 10));
  const line = input.readline();
  assert.equal(line.length, expected.indexOf(10) + 1 - 10);
  assert.deepEqual(input.read(), Buffer.from("end"));
  const chunks = [];
  for await (const c of createInput(buf)) chunks.push(c);
  assert.deepEqual(Buffer.concat(chunks), expected);
  buf.dispose();
  buf.dispose();
  fs.rmSync(tmpDir, { recursive: true });
});

test("limit: declared length and chunked bodies over the limit reject with 413", async () => {
  await assert.rejects(collectBody(fakeBody(["x".repeat(20)], { declaredLength: 20 }), { limit: 16, spoolThreshold: 1024 }), {
    code: "E_BODY_TOO_LARGE",
    status: 413,
  });
  const body = fakeBody(["x".repeat(10), "x".repeat(10), "x".repeat(10)]);
  await assert.rejects(collectBody(body, { limit: 16, spoolThreshold: 8 }), { code: "E_BODY_TOO_LARGE", status: 413 });
  assert.ok(body.paused > 0);
  // Exactly at the limit is fine.
  const ok = await collectBody(fakeBody(["x".repeat(16)]), { limit: 16, spoolThreshold: 1024 });
  assert.equal(ok.length, 16);
});

test("abort signal rejects a body that never completes", async () => {
  const ac = new AbortController();
  const body = { declaredLength: 100, chunked: false, start() {}, pause() {}, resume() {} };
  const p = collectBody(body, { limit: 0, spoolThreshold: 1024, signal: ac.signal });
  ac.abort();
  await assert.rejects(p, { code: "E_BODY_ABORTED" });
});

/** Descriptors of this process open on files under `dir` (a spool file shows as "... (deleted)"). */
function fdsUnder(dir) {
  const out = [];
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir + path.sep)) out.push(fd);
    } catch {
      /* closed meanwhile (the readdir's own descriptor) */
    }
  }
  return out;
}

test("abort mid-upload: the rejection comes after the spool file is closed", { skip: !fs.existsSync("/proc/self/fd") }, async () => {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-spool-"));
  try {
    let deliver = null;
    let paused = false;
    let resumed = 0;
    const body = {
      declaredLength: 64 << 20, chunked: false,
      start(cb) { deliver = cb; },
      pause() { paused = true; },
      resume() { resumed++; paused = false; },
    };
    const ac = new AbortController();
    const p = collectBody(body, { limit: 0, spoolThreshold: 4096, tmpDir, signal: ac.signal });
    // One large chunk: the spool file is opened and a write to it is in progress at the abort.
    deliver(Buffer.alloc(16 << 20, 0x61), false);
    assert.equal(fdsUnder(tmpDir).length, 1, "the body is being spooled");
    ac.abort();
    // Checked in the rejection's own reaction, before anything else can run.
    const open = await p.then(() => "resolved", (err) => (err.code === "E_BODY_ABORTED" ? fdsUnder(tmpDir) : String(err)));
    assert.deepEqual(open, [], "no descriptor of the spool file left when the rejection is seen");
    assert.deepEqual(fs.readdirSync(tmpDir), [], "and no file");
    // The write that was in progress finished without resuming the body given up.
    assert.equal(paused, true);
    assert.equal(resumed, 0);
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
});

test("a failed spool write rejects with its error once the file is closed, and nothing else fails", { skip: !fs.existsSync("/proc/self/fd") }, async () => {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-spool-"));
  const realWritev = fs.writev;
  const unhandled = [];
  const onUnhandled = (err) => unhandled.push(err);
  process.on("unhandledRejection", onUnhandled);
  fs.writev = (fd, views, pos, cb) => setImmediate(() => cb(Object.assign(new Error("disk full"), { code: "ENOSPC" })));
  try {
    const p = collectBody(fakeBody([Buffer.alloc(8192, 0x62), "more"]), { limit: 0, spoolThreshold: 4096, tmpDir });
    const open = await p.then(() => "resolved", (err) => (err.code === "ENOSPC" ? fdsUnder(tmpDir) : String(err)));
    assert.deepEqual(open, []);
    // An unhandled rejection would be reported after a turn or two.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(unhandled, []);
  } finally {
    fs.writev = realWritev;
    process.off("unhandledRejection", onUnhandled);
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
});

test("async iteration over wsgi.input yields the unread rest", async () => {
  const input = createInput(memoryBody(Buffer.from("abcdef")));
  input.read(2);
  const got = [];
  for await (const c of input) got.push(c.toString());
  assert.deepEqual(got, ["cdef"]);
});

test("environ: plain object with the CGI and wsgi keys; HTTPS and PATH handled as mod_wsgi", () => {
  const lines = [];
  const log = { log: (level, mod, msg) => lines.push([level, mod, msg]), close() {} };
  const errors = new WsgiErrors(log, clientPrefix("127.0.0.1", 5555));
  const input = createInput(memoryBody(Buffer.from("hi")));
  const env = buildEnviron(["REQUEST_METHOD", "GET", "PATH", "/usr/bin", "HTTPS", "on", "HTTP_HOST", "x"], {
    urlScheme: "http",
    input,
    errors,
    multithread: true,
    multiprocess: false,
    runOnce: false,
    extra: { "mod_wsgi.thread_id": 1 },
  });
  assert.equal(env.REQUEST_METHOD, "GET");
  assert.equal("PATH" in env, false);
  assert.equal("HTTPS" in env, false);
  assert.equal(env["wsgi.url_scheme"], "https");
  assert.deepEqual(env["wsgi.version"], [1, 0]);
  assert.equal(env["wsgi.input_terminated"], true);
  assert.equal(env["wsgi.multiprocess"], false);
  assert.equal(env["mod_wsgi.thread_id"], 1);
  assert.ok("wsgi.input" in env && "wsgi.errors" in env);
  const keys = Object.entries(env).map(([k]) => k);
  assert.ok(keys.includes("HTTP_HOST") && keys.includes("wsgi.file_wrapper"));
  const json = JSON.parse(JSON.stringify(env));
  assert.equal(json.HTTP_HOST, "x");
  assert.equal(env["wsgi.input"].read().toString(), "hi");

  const overridden = buildEnviron(["wsgi.url_scheme", "https"], { urlScheme: "http", input, errors, multithread: false, multiprocess: false, runOnce: false });
  assert.equal(overridden["wsgi.url_scheme"], "https");

  env["wsgi.errors"].write("first line\nsecond ");
  env["wsgi.errors"].writelines(["part\n", "dangling"]);
  assert.deepEqual(lines, [
    ["error", "wsgi", "[client 127.0.0.1:5555] first line"],
    ["error", "wsgi", "[client 127.0.0.1:5555] second part"],
  ]);
  env["wsgi.errors"].flush();
  assert.deepEqual(lines[2], ["error", "wsgi", "[client 127.0.0.1:5555] dangling"]);
});

test("wsgi.file_wrapper iterates blocks and closes", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-fw-"));
  const file = path.join(dir, "f");
  fs.writeFileSync(file, "0123456789");
  const w = fileWrapper(fs.openSync(file, "r"), 4);
  assert.deepEqual([...w].map(String), ["0123", "4567", "89"]);
  w.close();
  fs.rmSync(dir, { recursive: true });
});

test("a borrowed spool file body reads nothing once disposed, and leaves the descriptor open", () => {
  const { borrowedFileBody } = require("../dist/app/input");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nwsgi-borrowed-")), "body");
  fs.writeFileSync(file, "borrowed bytes");
  const fd = fs.openSync(file, "r");
  try {
    const b = borrowedFileBody(fd, 14);
    assert.equal(b.readAt(0, 8).toString(), "borrowed");
    // The owner (the front-end thread) may close it and the number be reused by another file.
    b.dispose();
    assert.equal(b.readAt(0, 8).length, 0);
    assert.equal(fs.readSync(fd, Buffer.alloc(8), 0, 8, 0), 8, "the owner's descriptor is still open");
  } finally {
    fs.closeSync(fd);
  }
});

test("collectBody keeps a body of many small chunks intact, mixed with large ones, with and without a length", async () => {
  // Small chunks are gathered into slabs: their order with the large ones must hold.
  const pieces = [];
  for (let i = 0; i < 3000; i++) pieces.push(Buffer.from([i & 255]));
  pieces.push(Buffer.alloc(70_000, 7));
  for (let i = 0; i < 5000; i++) pieces.push(Buffer.from(`${i},`));
  pieces.push(Buffer.alloc(5000, 9));
  pieces.push(Buffer.from("end"));
  const whole = Buffer.concat(pieces);
  for (const declared of [whole.length, -1]) {
    const fake = {
      declaredLength: declared,
      chunked: declared < 0,
      start(onChunk) {
        pieces.forEach((p, i) => {
          // The front end lends its chunk for the call only.
          const lent = Buffer.from(p);
          onChunk(lent, i === pieces.length - 1);
          lent.fill(0xee);
        });
      },
      pause() {},
      resume() {},
    };
    const got = await collectBody(fake, { limit: 0, spoolThreshold: 1 << 20 });
    assert.equal(got.length, whole.length);
    assert.ok(got.readAt(0, whole.length).equals(whole), `declared ${declared}`);
  }
  // A short body alone keeps only its own bytes (not a whole slab).
  const one = await collectBody({ declaredLength: -1, chunked: true, start(c) { c(Buffer.from("abc"), true); }, pause() {}, resume() {} }, { limit: 0, spoolThreshold: 1 << 20 });
  assert.equal(one.readAt(0, 10).toString(), "abc");
});
