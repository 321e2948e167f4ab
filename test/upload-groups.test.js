"use strict";
// Request bodies to applications in a worker group and in a daemon process, through both front
// ends: patterned bytes hashed by the application, several uploads interleaving on the one
// connection to a daemon process, and a client that leaves mid-upload (the supervisor's frame
// slabs return to their pool, the process keeps serving).
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const http = require("node:http");
const net = require("node:net");
const { mountedSite, startServer, warmUp } = require("./helpers/raw-http");
const { patterned, waitFor } = require("./helpers/daemon-groups");
const { Outbox, SLAB_MIN, pooledSlabs } = require("../dist/groups/daemon-protocol");

const MIB = 1024 * 1024;

// Answers "<bytes> <sha256> <pid>" for the body it read.
const HASH = `"use strict";
const crypto = require("crypto");
exports.application = async (environ, start_response) => {
  const h = crypto.createHash("sha256");
  let n = 0;
  for await (const c of environ["wsgi.input"]) { h.update(c); n += c.length; }
  const body = Buffer.from(n + " " + h.digest("hex") + " " + process.pid);
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;

const digest = (data) => `${data.length} ${crypto.createHash("sha256").update(data).digest("hex")}`;

/** POSTs `data` with a Content-Length, in writes of `step` bytes that respect backpressure. */
function post(port, urlPath, data, step = 100_003) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method: "POST", agent: false, headers: { "content-length": String(data.length) } }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => {
        const [n, hash, pid] = Buffer.concat(parts).toString().split(" ");
        resolve({ status: res.statusCode, got: `${n} ${hash}`, pid });
      });
    });
    req.on("error", reject);
    let at = 0;
    const pump = () => {
      while (at < data.length) {
        const chunk = data.subarray(at, Math.min(data.length, at + step));
        at += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

for (const frontEnd of ["uws", "node"]) {
  describe(`request bodies to worker and daemon groups (${frontEnd} front end)`, () => {
    let server;
    let port;
    before(async () => {
      ({ server, port } = await startServer(frontEnd, mountedSite(HASH)));
      await warmUp(port);
    });
    after(() => server?.stop(3000));

    it("a few MiB of patterned bytes arrive intact in the front-end thread, a worker thread and a daemon process", async () => {
      for (const [mount, seed] of [["/g", 1], ["/w", 2], ["/d", 3]]) {
        const data = patterned(5 * MIB + 17, seed);
        const r = await post(port, `${mount}/hash`, data);
        assert.equal(r.status, 200, mount);
        assert.equal(r.got, digest(data), `${mount}: the body the application read`);
      }
    });

    it("concurrent uploads to one daemon process interleave on its connection and each arrives intact", async () => {
      const jobs = [];
      for (let i = 0; i < 4; i++) {
        const data = patterned(3 * MIB + 1000 * i, 10 + i);
        // Different write sizes: the frames of the four bodies mix on the daemon's one link.
        jobs.push(post(port, "/d/hash", data, 65_536 + 7919 * i).then((r) => [r, data]));
      }
      const data = patterned(2 * MIB, 20);
      jobs.push(post(port, "/w/hash", data).then((r) => [r, data]));
      const results = await Promise.all(jobs);
      for (const [r, d] of results) {
        assert.equal(r.status, 200);
        assert.equal(r.got, digest(d));
      }
      assert.equal(new Set(results.slice(0, 4).map(([r]) => r.pid)).size, 1, "one daemon process took them all");
    });

    it("a client that leaves mid-upload: the slabs its frames used are back in the pool, and the daemon process keeps serving", async () => {
      const before = await post(port, "/d/hash", patterned(MIB, 30));
      // Empty the (process-wide) pool into frames a sink that never calls back holds: any slab
      // in the pool afterwards was given back by the aborted upload's writes.
      const hold = new Outbox({ destroyed: false, write: () => true, cork() {}, uncork() {} }, false);
      while (pooledSlabs() > 0) hold.data(2, 1, Buffer.alloc(SLAB_MIN));
      hold.flush();
      const client = net.connect(port, "127.0.0.1");
      await new Promise((r) => client.once("connect", r));
      client.write(`POST /d/hash HTTP/1.1\r\nHost: a\r\nContent-Length: ${16 * MIB}\r\n\r\n`);
      const part = patterned(4 * MIB, 31);
      await new Promise((r) => client.write(part, r));
      await waitFor(() => pooledSlabs() > 0, "slabs of the upload to come back");
      client.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const n = pooledSlabs();
      assert.ok(n > 0 && n <= 8, `pool after the abort: ${n}`);
      const data = patterned(3 * MIB, 32);
      const after = await post(port, "/d/hash", data);
      assert.equal(after.status, 200);
      assert.equal(after.got, digest(data));
      assert.equal(after.pid, before.pid, "the same daemon process");
    });
  });
}
