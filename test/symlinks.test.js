"use strict";
// Options FollowSymLinks / SymLinksIfOwnerMatch, enforced by the directory walk as in Apache.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const http = require("./helpers/http");

/** Status and body only, for whole-result comparisons. */
async function get(port, p) {
  const { status, body } = await http.get(port, p);
  return { status, body };
}

describe("symbolic links and Options", () => {
  let server;
  let port;
  let root;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-symlinks-"));
    fs.mkdirSync(path.join(root, "real"));
    fs.writeFileSync(path.join(root, "real", "file.txt"), "real file\n");
    for (const d of ["follow", "nofollow", "owner"]) {
      fs.mkdirSync(path.join(root, "site", d), { recursive: true });
      fs.symlinkSync(path.join(root, "real"), path.join(root, "site", d, "link"));
      fs.writeFileSync(path.join(root, "site", d, "plain.txt"), "plain\n");
    }
    fs.writeFileSync(
      path.join(root, "site.conf"),
      [
        "ServerName localhost",
        "Listen 127.0.0.1:0",
        `DocumentRoot ${root}/site`,
        `<Directory ${root}>`,
        "    Require all granted",
        "</Directory>",
        `<Directory ${root}/site/nofollow>`,
        "    Options None",
        "</Directory>",
        `<Directory ${root}/site/owner>`,
        "    Options SymLinksIfOwnerMatch",
        "</Directory>",
        "",
      ].join("\n"),
    );
    server = await Server.start(loadConfig(path.join(root, "site.conf")), { engine: jsEngine, frontEnd: "node", errorLog: { log() {}, close() {} }, accessLog: null, notice: () => {} });
    port = server.addresses[0].port;
  });
  after(() => server?.stop(1000));

  it("FollowSymLinks (httpd's default) follows the link", async () => {
    assert.deepEqual(await get(port, "/follow/link/file.txt"), { status: 200, body: "real file\n" });
  });

  it("Options None: a link in the directory is refused with 403; plain files are served", async () => {
    assert.equal((await get(port, "/nofollow/link/file.txt")).status, 403);
    assert.deepEqual(await get(port, "/nofollow/plain.txt"), { status: 200, body: "plain\n" });
  });

  it("SymLinksIfOwnerMatch: followed when link and target have one owner", async () => {
    assert.equal((await get(port, "/owner/link/file.txt")).status, 200);
  });

  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  it("SymLinksIfOwnerMatch: refused when the owners differ", { skip: asRoot ? false : "needs root to chown" }, async () => {
    fs.lchownSync(path.join(root, "site", "owner", "link"), 65534, 65534);
    // The map phase reuses a path's results for STAT_TTL_MS (200 ms): wait that out.
    await new Promise((r) => setTimeout(r, 250));
    assert.equal((await get(port, "/owner/link/file.txt")).status, 403);
  });
});
