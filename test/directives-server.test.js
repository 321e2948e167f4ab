"use strict";
// Server-level directives that change how requests are refused or found, through a real server:
// WSGIRestrictEmbedded, WSGIRestrictProcess, AccessFileName, LimitRequestLine/LimitRequestFields.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { raw, statusOf: status } = require("./helpers/http");

const nullLog = { log() {}, close() {} };

const get = (port, p, extra = "") => raw(port, `GET ${p} HTTP/1.1\r\nHost: x.test\r\n${extra}Connection: close\r\n\r\n`);

for (const frontEnd of ["node", "uws"]) {
  describe(`server directives (${frontEnd} front end)`, () => {
    let server;
    let port;
    before(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-directives-"));
      fs.writeFileSync(path.join(dir, "app.js"), `exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"]]); return ["ok " + e["mod_wsgi.process_group"]]; };\n`);
      fs.mkdirSync(path.join(dir, "site", "private"), { recursive: true });
      fs.writeFileSync(path.join(dir, "site", "private", "secret.txt"), "secret\n");
      fs.writeFileSync(path.join(dir, "site", "private", ".access"), "Require all denied\n");
      fs.writeFileSync(path.join(dir, "site", "private", ".htaccess"), "Require all granted\n");
      fs.writeFileSync(
        path.join(dir, "site.conf"),
        [
          "ServerName localhost",
          "Listen 127.0.0.1:0",
          `DocumentRoot ${dir}/site`,
          "WSGIRestrictEmbedded On",
          "AccessFileName .access",
          "LimitRequestLine 200",
          "LimitRequestFields 5",
          "WSGIDaemonProcess allowed threads=2",
          "WSGIDaemonProcess other threads=2",
          `WSGIScriptAlias /embedded ${dir}/app.js`,
          `WSGIScriptAlias /allowed ${dir}/app.js process-group=allowed`,
          `WSGIScriptAlias /other ${dir}/app.js process-group=other`,
          `<Directory ${dir}>`,
          "    Require all granted",
          "    AllowOverride All",
          "    WSGIRestrictProcess allowed",
          "</Directory>",
          "",
        ].join("\n"),
      );
      server = await Server.start(loadConfig(path.join(dir, "site.conf")), { engine: jsEngine, frontEnd, errorLog: nullLog, accessLog: null, notice: () => {} });
      port = server.addresses[0].port;
    });
    after(() => server?.stop(1000));

    it("WSGIRestrictEmbedded On: embedded-mode applications get 500, daemon groups run", async () => {
      assert.equal(status(await get(port, "/embedded")), 500);
      const ok = await get(port, "/allowed");
      assert.equal(status(ok), 200);
      assert.match(ok, /ok allowed$/);
    });

    it("WSGIRestrictProcess: a process group outside the list gets 500, as in mod_wsgi", async () => {
      assert.equal(status(await get(port, "/other")), 500);
    });

    it("AccessFileName: the named file is read, .htaccess is not", async () => {
      assert.equal(status(await get(port, "/private/secret.txt")), 403);
    });

    it("LimitRequestLine and LimitRequestFields", async () => {
      assert.equal(status(await get(port, "/allowed?" + "x".repeat(300))), 414);
      const many = Array.from({ length: 6 }, (_, i) => `X-H${i}: v\r\n`).join("");
      assert.equal(status(await get(port, "/allowed", many)), 400);
    });
  });
}

describe("LimitRequestBody refusals and the connection", () => {
  for (const frontEnd of ["node", "uws"]) {
    it(`${frontEnd}: a small refused body is skipped and the connection kept; a large one closes it`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-limit-"));
      fs.writeFileSync(path.join(dir, "app.js"), `exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"]]); return ["ok"]; };\n`);
      fs.writeFileSync(
        path.join(dir, "site.conf"),
        ["ServerName localhost", "Listen 127.0.0.1:0", `WSGIScriptAlias / ${dir}/app.js application-group=%{GLOBAL}`, `<Directory ${dir}>`, "    Require all granted", "    LimitRequestBody 1024", "</Directory>", ""].join("\n"),
      );
      const server = await Server.start(loadConfig(path.join(dir, "site.conf")), { engine: jsEngine, frontEnd, errorLog: nullLog, accessLog: null, notice: () => {} });
      const port = server.addresses[0].port;
      try {
        const post = (n) => `POST /x HTTP/1.1\r\nHost: x.test\r\nContent-Length: ${n}\r\n\r\n`;
        // Two refused 4 KiB bodies, then a GET, on one connection: all three are answered.
        const small = await raw(port, post(4096) + "a".repeat(4096) + post(4096) + "a".repeat(4096) + "GET /x HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n");
        assert.deepEqual(small.match(/HTTP\/1\.1 \d+/g), ["HTTP/1.1 413", "HTTP/1.1 413", "HTTP/1.1 200"]);
        // A refused body declared at 2 MiB is not swallowed: the connection closes after the 413.
        const large = await raw(port, post(2 * 1024 * 1024));
        assert.match(large, /^HTTP\/1\.1 413 /);
        assert.match(large, /\r\nConnection: close\r\n/i);
      } finally {
        await server.stop(1000);
      }
    });
  }
});
