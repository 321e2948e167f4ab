"use strict";
// Responses that end in an unusual way, as raw bytes on real sockets, on both front ends and
// with the application in the front-end thread (%{GLOBAL}, where uWS holds everything written
// inside its handler corked), in a worker-thread group and in a daemon process (whose response
// reaches the front end in frames). What httpd + mod_wsgi 4.9 does was
// recorded for each case: 204/304 carry no body and no Content-Length or Content-Type; a 500
// page closes the connection; a response that fails after its head still delivers what was
// sent. Beyond mod_wsgi: the server must survive all of them, and count every request out.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { mountedSite, MOUNTS, warmUp, startServer, exchange, inTurn, parseResponses } = require("./helpers/raw-http");

const H = "Host: a\r\n";
const BIG = 200_000;

const APP = `"use strict";
const BIG = ${BIG};
exports.application = (environ, start_response) => {
  switch (environ.PATH_INFO) {
    case "/s204":
      start_response("204 No Content", [["Content-Type", "text/plain"], ["Content-Length", "10"], ["ETag", '"e"']]);
      return ["hello body"];
    case "/s304":
      start_response("304 Not Modified", [["Content-Type", "text/plain"], ["ETag", '"e"']]);
      return ["hello body"];
    case "/stream":
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () { yield "hello "; yield "body"; })();
    case "/raise":
      throw new Error("boom before start_response");
    case "/cut":
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () { yield "first-chunk"; throw new Error("boom mid-body"); })();
    case "/big": {
      const body = Buffer.alloc(BIG, 97);
      start_response("200 OK", [["Content-Type", "application/octet-stream"], ["Content-Length", String(BIG)]]);
      return [body];
    }
    case "/app-close":
      start_response("200 OK", [["Content-Type", "text/plain"], ["Connection", "close"], ["Keep-Alive", "timeout=99"]]);
      return ["closing"];
    case "/app-close-stream":
      start_response("200 OK", [["Content-Type", "text/plain"], ["Connection", "close"]]);
      return (function* () { yield "streamed "; yield "and closing"; })();
    default:
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return ["ok"];
  }
};
`;

for (const frontEnd of ["node", "uws"]) {
  describe(`response edges (${frontEnd} front end)`, () => {
    let server;
    let port;
    let site;
    before(async () => {
      site = mountedSite(APP);
      ({ server, port } = await startServer(frontEnd, site));
      await warmUp(port);
    });
    after(async () => {
      await server?.stop(500);
      fs.rmSync(site.work, { recursive: true, force: true });
    });

    /** Everything up to the end of the head, and a little after it for any stray bytes. */
    const headOf = (raw) => raw.includes("\r\n\r\n");
    const settled = async () => {
      const deadline = Date.now() + 30_000; // ends with the condition; bounds a broken run
      while (server.frontEnd.inFlight !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(server.frontEnd.inFlight, 0, "every request counted out exactly once");
    };

    for (const [mount, where] of MOUNTS) {
      describe(where, () => {
        for (const status of [204, 304]) {
          it(`${status} with a body from the application: head only, no Content-Length or Content-Type; the connection stays usable`, async () => {
            const r = await exchange(port, `GET ${mount}/s${status} HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 5000, until: headOf });
            const text = r.raw.toString("latin1");
            assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
            assert.ok(text.endsWith("\r\n\r\n"), `nothing after the head: ${JSON.stringify(text)}`);
            assert.doesNotMatch(text, /content-length|content-type/i);
            assert.match(text, /\r\nETag: "e"\r\n/);
            assert.equal(r.closed, false);
            // The next request on the same connection is answered normally: no stray bytes.
            const rs = await inTurn(port, [`GET ${mount}/s${status} HTTP/1.1\r\n${H}\r\n`, `GET ${mount}/ok HTTP/1.1\r\n${H}\r\n`]);
            assert.deepEqual(rs.map((x) => x.status), [status, 200]);
            assert.equal(rs[1].body.toString(), "ok");
          });
        }

        it("HEAD of a streamed response: no body and no invented Content-Length", async () => {
          const r = await exchange(port, `HEAD ${mount}/stream HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 5000, until: headOf });
          const text = r.raw.toString("latin1");
          assert.match(text, /^HTTP\/1\.1 200 /);
          assert.ok(text.endsWith("\r\n\r\n"), JSON.stringify(text));
          assert.doesNotMatch(text, /content-length/i);
          assert.doesNotMatch(text, /hello/);
        });

        it("an application that fails before its head: Apache's 500 page, then the connection is closed (as httpd)", async () => {
          const r = await exchange(port, `GET ${mount}/raise HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 2000 });
          const [res] = parseResponses(r.raw);
          assert.equal(res.status, 500);
          assert.equal(res.headers.connection, "close");
          assert.match(res.body.toString(), /<title>500 Internal Server Error<\/title>/);
          assert.ok(r.closed, "closed after the 500");
          await settled();
        });

        it("an application that fails after its head: the client gets what was sent, then the connection closes, unterminated", async () => {
          const r = await exchange(port, `GET ${mount}/cut HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 2000 });
          const text = r.raw.toString("latin1");
          assert.match(text, /^HTTP\/1\.1 200 /);
          assert.ok(text.includes("first-chunk"), `what was sent arrives: ${JSON.stringify(text)}`);
          assert.ok(!text.endsWith("0\r\n\r\n"), "no final chunk: the client can tell the body was cut short");
          assert.ok(r.closed);
          await settled();
        });

        it("a body over 64 KiB of known length, asked with Connection: close: sent whole, and the server carries on", async () => {
          const r = await exchange(port, `GET ${mount}/big HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, { timeoutMs: 3000 });
          const [res] = parseResponses(r.raw);
          assert.equal(res.status, 200);
          assert.equal(res.body.length, BIG);
          assert.ok(r.closed);
          const next = await exchange(port, `GET ${mount}/ok HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
          assert.equal(parseResponses(next.raw)[0]?.status, 200);
          await settled();
        });

        it("the application's Connection: close is honoured; its Keep-Alive is not sent", async () => {
          const r = await exchange(port, `GET ${mount}/app-close HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 2000 });
          const [res] = parseResponses(r.raw);
          assert.equal(res.status, 200);
          assert.equal(res.body.toString(), "closing");
          assert.equal(res.headers["keep-alive"], undefined);
          assert.ok(r.closed);
        });

        it("the application's Connection: close on a streamed body: the head says close, the chunked body stays intact", async () => {
          const r = await exchange(port, `GET ${mount}/app-close-stream HTTP/1.1\r\n${H}\r\n`, { timeoutMs: 2000, until: (b) => b.includes("\r\n0\r\n\r\n") });
          const [res] = parseResponses(r.raw);
          assert.equal(res.status, 200);
          assert.equal(res.headers.connection, "close");
          assert.equal(res.headers["transfer-encoding"], "chunked");
          assert.equal(res.body.toString(), "streamed and closing");
          assert.ok(r.raw.toString("latin1").endsWith("\r\n0\r\n\r\n"), JSON.stringify(r.raw.toString("latin1")));
        });
      });
    }
  });
}
