"use strict";
// FileETag Digest hashes the whole file before the head is sent. A client that goes away
// meanwhile closes the file under the hash: the request just ends, with no "internal error"
// in the error log, and the server serves on.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { startServer, exchange, parseResponses, writeSite } = require("./helpers/raw-http");

const SIZE = 48 * 1024 * 1024;

for (const frontEnd of ["uws", "node"]) {
  describe(`FileETag Digest and a client gone mid-hash (${frontEnd} front end)`, () => {
    let server;
    let port;
    let work;
    before(async () => {
      const site = writeSite("nodewsgi-digest-", ({ htdocs }) => ({
        files: { "htdocs/big.bin": Buffer.alloc(SIZE, 7) },
        config: `<Directory "${htdocs}">\n    Require all granted\n    FileETag Digest\n</Directory>\n`,
      }));
      work = site.work;
      ({ server, port } = await startServer(frontEnd, site));
    });
    after(async () => {
      await server?.stop(500);
      fs.rmSync(work, { recursive: true, force: true });
    });

    it("ends the request quietly and keeps serving", async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => {
          const s = net.connect(port, "127.0.0.1", () => {
            s.write("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
            setTimeout(() => s.destroy(), 5);
          });
          s.on("close", resolve);
          s.on("error", () => undefined);
        });
      }
      // The hashes in flight finish (or fail) before the log is read.
      await new Promise((r) => setTimeout(r, 1500));
      const r = await exchange(port, "HEAD /big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", { timeoutMs: 60_000 }); // ends with the close
      const [res] = parseResponses(r.raw, ["HEAD"]);
      assert.equal(res.status, 200);
      assert.match(res.headers.etag, /^"[A-Za-z0-9+/]{27}="$/);
      assert.doesNotMatch(fs.readFileSync(path.join(work, "error.log"), "utf8"), /internal error serving/);
    });
  });
}
