"use strict";
// A client that stops sending its request body: answered 408 after Apache's `Timeout`, and the
// connection closed, wherever the application runs (mod_wsgi: 408 in a daemon process; httpd's
// read fails after Timeout in embedded mode). Raw sockets, both front ends.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { mountedSite, MOUNTS, warmUp, startServer, exchange, parseResponses } = require("./helpers/raw-http");

const APP = `exports.application = (environ, start_response) => {
  const body = environ["wsgi.input"].read();
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return ["read " + body.length];
};
`;

for (const frontEnd of ["node", "uws"]) {
  describe(`a request body that stops arriving (${frontEnd} front end)`, () => {
    let server;
    let port;
    let site;
    before(async () => {
      site = mountedSite(APP, { directives: "Timeout 1" });
      ({ server, port } = await startServer(frontEnd, site));
      await warmUp(port);
    });
    after(async () => {
      await server?.stop(500);
      fs.rmSync(site.work, { recursive: true, force: true });
    });

    for (const [mount, where] of MOUNTS) {
      it(`${where}: a body that arrives whole is read`, async () => {
        const r = await exchange(port, `POST ${mount} HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`, { timeoutMs: 5000 });
        assert.equal(parseResponses(r.raw)[0]?.body.toString(), "read 2");
      });

      it(`${where}: 408 after Timeout, then the connection is closed`, async () => {
        const r = await exchange(port, `POST ${mount} HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabcd`, { timeoutMs: 8000 });
        const [res] = parseResponses(r.raw);
        assert.equal(res?.status, 408, JSON.stringify(r.raw.toString("latin1")));
        assert.equal(res.headers.connection, "close");
        assert.ok(r.closed);
        assert.ok(r.ms >= 900, `not before Timeout (${r.ms} ms)`);
      });
    }
  });
}
