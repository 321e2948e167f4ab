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
    // The configuration names its port (VirtualHost *:PORT), so it cannot say Listen 0: a port
    // found free can be taken by someone else before we bind it, and then another is tried.
    for (let attempt = 1; ; attempt++) {
      live.port = await freePort();
      try {
        live.server = await Server.start(loadConfig(writeSite(live.port)), { engine, frontEnd, errorLog: nullLog, accessLog: null, notice: () => {} });
        return;
      } catch (err) {
        if (err?.code !== "E_LISTEN" || attempt === 5) throw err;
      }
    }
  });
  after(async () => {
    await live.server?.stop(1000);
  });
  return live;
}

module.exports = { siteServer };
