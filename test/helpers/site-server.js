"use strict";
/**
 * A real server for the tests of one describe block: `siteServer(writeSite, engine, frontEnd)`
 * picks a free port, starts the configuration file `writeSite(port)` returns before the block's
 * tests and stops it after them. The returned object's `port` and `server` are set once it runs.
 */
const { before, after } = require("node:test");
const { loadConfig } = require("../../dist/config");
const { Server } = require("../../dist/server");
const { freePort } = require("./http");

const nullLog = { log() {}, close() {} };

function siteServer(writeSite, engine, frontEnd) {
  const live = { port: 0, server: null };
  before(async () => {
    live.port = await freePort();
    live.server = await Server.start(loadConfig(writeSite(live.port)), { engine, frontEnd, errorLog: nullLog, accessLog: null, notice: () => {} });
  });
  after(async () => {
    await live.server?.stop(1000);
  });
  return live;
}

module.exports = { siteServer };
