"use strict";
// Every example under examples/ loads and answers as its comments promise (served in-process,
// on a free port instead of the one in its file).
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { get } = require("./helpers/http");
const { FileErrorLog } = require("../dist/log/error-log");

const EXAMPLES = path.join(__dirname, "..", "examples");

/** Serve examples/NAME/site.conf (or examples/site.conf) on a free port. */
function serving(conf) {
  const state = {};
  before(async () => {
    const config = loadConfig(path.join(EXAMPLES, conf));
    config.listen = [{ host: "127.0.0.1", port: 0, where: config.listen[0].where }];
    state.server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(2, "error"), accessLog: null, notice: () => {} });
    state.port = state.server.addresses[0].port;
  });
  after(() => state.server?.stop(2000));
  return state;
}

describe("examples/site.conf (npm start)", () => {
  const s = serving("site.conf");
  it("static page at /, hello in %{GLOBAL}, the environ viewer in a worker", async () => {
    const home = await get(s.port, "/");
    assert.equal(home.status, 200);
    assert.match(home.body, /nodewsgi is running/);
    assert.equal(await get(s.port, "/hello/x").then((r) => r.body), "Hello World! (GET /hello/x)\n");
    const env = await get(s.port, "/env/some/path?x=1");
    assert.match(env.body, /^PATH_INFO = \/some\/path$/m);
    assert.match(env.body, /^SCRIPT_NAME = \/env$/m);
  });
});

describe("examples/static-and-app", () => {
  const s = serving("static-and-app/site.conf");
  it("static files beside an application at the root", async () => {
    assert.match((await get(s.port, "/robots.txt")).body, /User-agent/);
    const css = await get(s.port, "/static/css/site.css");
    assert.equal(css.headers["content-type"], "text/css");
    const page = await get(s.port, "/any/page");
    assert.equal(page.status, 200);
    assert.match(page.body, /You asked for <code>\/any\/page<\/code>/);
  });
});

describe("examples/daemons", () => {
  const s = serving("daemons/site.conf");
  it("two applications in two daemon process groups", async () => {
    const shop = (await get(s.port, "/shop")).body;
    const admin = (await get(s.port, "/admin")).body;
    const pid = (text) => Number(/pid (\d+)/.exec(text)[1]);
    assert.match(shop, /process group 'shop' \(multiprocess: true\)/);
    assert.match(admin, /process group 'admin' \(multiprocess: false\)/);
    assert.notEqual(pid(shop), pid(admin));
    assert.notEqual(pid(shop), process.pid);
  });
});

describe("examples/express and examples/hono", () => {
  const express = serving("express/site.conf");
  const hono = serving("hono/site.conf");
  it("mounted with WSGIScriptAlias", async () => {
    assert.match((await get(express.port, "/app/")).body, /Hello from Express/);
    assert.match((await get(hono.port, "/hono/")).body, /Hello from Hono/);
  });
});
