"use strict";
// REMOTE_ADDR as Apache writes it, on both front ends and over real IPv4 and IPv6 sockets.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { addressText } = require("../dist/http/address-text");

test("addressText: IPv4, short IPv6 forms (RFC 5952), IPv4-mapped and IPv4-compatible", () => {
  const v6 = (hex) => Uint8Array.from(Buffer.from(hex.replace(/[: ]/g, ""), "hex"));
  assert.equal(addressText(Uint8Array.of(10, 0, 200, 1)), "10.0.200.1");
  assert.equal(addressText(v6("0000 0000 0000 0000 0000 0000 0000 0001")), "::1");
  assert.equal(addressText(v6("0000 0000 0000 0000 0000 0000 0000 0000")), "::");
  assert.equal(addressText(v6("2001 0db8 0000 0000 0000 0000 0000 0007")), "2001:db8::7");
  assert.equal(addressText(v6("fe80 0000 0000 0000 02ab 00ff fe00 0001")), "fe80::2ab:ff:fe00:1");
  // A single zero group is not shortened; of two equal runs the first is.
  assert.equal(addressText(v6("2001 0db8 0000 0001 0001 0001 0001 0001")), "2001:db8:0:1:1:1:1:1");
  assert.equal(addressText(v6("2001 0000 0000 0001 0000 0000 0001 0001")), "2001::1:0:0:1:1");
  // The longer run wins even when it comes second.
  assert.equal(addressText(v6("2001 0000 0001 0000 0000 0000 0001 0001")), "2001:0:1::1:1");
  assert.equal(addressText(v6("0001 0002 0003 0004 0005 0006 0000 0000")), "1:2:3:4:5:6::");
  assert.equal(addressText(v6("0000 0000 0000 0000 0000 ffff 7f00 0001")), "127.0.0.1");
  assert.equal(addressText(v6("0000 0000 0000 0000 0000 0000 0a01 0203")), "::10.1.2.3");
  assert.equal(addressText(new Uint8Array(3)), "");
});

const hasIpv6 = (() => {
  return os.networkInterfaces().lo?.some((a) => a.family === "IPv6" && a.address === "::1") ?? false;
})();

for (const frontEnd of ["uws", "node"]) {
  test(`${frontEnd} front end: REMOTE_ADDR of IPv4 and IPv6 clients`, { skip: hasIpv6 ? false : "no IPv6 loopback" }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-addr-"));
    fs.writeFileSync(path.join(dir, "addr.js"), 'exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"]]); return [e.REMOTE_ADDR]; };\n');
    fs.writeFileSync(
      path.join(dir, "site.conf"),
      ["ServerName localhost", "Listen [::]:0", `WSGIScriptAlias / ${dir}/addr.js application-group=%{GLOBAL}`, `<Directory ${dir}>`, "    Require all granted", "</Directory>", ""].join("\n"),
    );
    const server = await Server.start(loadConfig(path.join(dir, "site.conf")), { engine: jsEngine, frontEnd, errorLog: { log() {}, close() {} }, accessLog: null, notice: () => {} });
    try {
      const port = server.addresses[0].port;
      const ask = (host) =>
        new Promise((resolve, reject) => {
          const sock = net.connect(port, host);
          let data = "";
          sock.on("data", (d) => (data += d));
          sock.on("error", reject);
          sock.on("close", () => resolve(data.split("\r\n\r\n")[1]));
          sock.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        });
      assert.equal(await ask("::1"), "::1");
      // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; Apache writes the IPv4 text.
      assert.equal(await ask("127.0.0.1"), "127.0.0.1");
    } finally {
      await server.stop(1000);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
