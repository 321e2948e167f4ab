"use strict";
// The conformance corpus (recorded from Apache httpd 2.4 + mod_wsgi 4.9) replayed against
// nodewsgi on both engines and both front ends. See test/fixtures/conformance/README.md.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { expectedScenarios, prepare, replay, compare } = require("./helpers/conformance");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { createNativeEngine } = require("../dist/engine/native-engine");
const { FileErrorLog } = require("../dist/log/error-log");

// Daemon process groups are the process-group work's; these scenarios need them.
const NEEDS_DAEMONS = new Set([]);

// What the uWS 20.30 binary cannot do (docs/front-ends.md): it drops requests with `_` in a
// header name, and cannot tell `/a?` from `/a`. The node:http front end passes these.
const UWS_LIMITS = new Map([
  ["header-mapping GET /h #0", "uWS drops requests with an underscore in a header name"],
  ["alias-file GET /myapp? #13", "uWS reports no query for a bare `?`, so REQUEST_URI loses it"],
]);

const engines = [["js", () => jsEngine], ["native", () => createNativeEngine()]];
const frontEnds = ["node", "uws"];

for (const [engineName, makeEngine] of engines) {
  for (const frontEnd of frontEnds) {
    describe(`conformance: ${engineName} engine, ${frontEnd} front end`, () => {
      for (const exp of expectedScenarios()) {
        if (NEEDS_DAEMONS.has(exp.name)) continue;
        describe(exp.name, () => {
          let server;
          let site;
          before(async () => {
            site = prepare(exp);
            const config = loadConfig(site.configFile);
            server = await Server.start(config, {
              engine: makeEngine(),
              frontEnd,
              errorLog: new FileErrorLog(config.errorLog ?? 2, "debug"),
              notice: () => {},
            });
          });
          after(async () => {
            await server?.stop(1000);
          });
          exp.results.forEach((r, i) => {
            const req = r.request;
            const key = `${exp.name} ${req.method} ${req.target} #${i}`;
            const limit = frontEnd === "uws" ? UWS_LIMITS.get(key) : undefined;
            it(`${req.method} ${req.target}`, { skip: limit ? `known uWS limit: ${limit}` : false }, async () => {
              const port = server.addresses[0].port;
              const got = await replay(port, site.root, req);
              const diffs = compare(r, got);
              assert.deepEqual(diffs, [], `${key}:\n  ${diffs.join("\n  ")}\n  (error log: ${site.srv}/error.log)`);
            });
          });
        });
      }
    });
  }
}
