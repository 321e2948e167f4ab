"use strict";
// The conformance corpus (recorded from Apache httpd 2.4 + mod_wsgi 4.9) replayed against
// nodewsgi on both engines and both front ends. See test/fixtures/conformance/README.md.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { expectedScenarios, canPrepare, prepare, replay, compare } = require("./helpers/conformance");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { createNativeEngine } = require("../dist/engine/native-engine");
const { FileErrorLog } = require("../dist/log/error-log");

// Daemon process groups are the process-group work's; these scenarios need them.
const NEEDS_DAEMONS = new Set([]);

// What a front end's parser decides before nodewsgi sees the request (docs/front-ends.md).
// uWS 20.30 drops requests with `_` in a header name, cannot tell `/a?` from `/a`, and decodes
// header values as UTF-8 (dropping non-ASCII bytes at the end of a value); bytes of the target
// that are not valid UTF-8 reach nodewsgi as U+FFFD. llhttp refuses bytes beyond ASCII in the
// target with 400, where Apache serves them.
const LIMITS = {
  uws: new Map([
    ["header-mapping GET /h #0", "uWS drops requests with an underscore in a header name"],
    ["alias-file GET /myapp? #13", "uWS reports no query for a bare `?`, so REQUEST_URI loses it"],
    ["non-ascii GET /app/h #0", "uWS decodes header values as UTF-8; they are not latin-1 bytes"],
    ["non-ascii GET /app/h #1", "uWS drops non-ASCII bytes at the end of a header value"],
    ["non-ascii GET /app/x\u00e9 #4", "uWS turns target bytes that are not valid UTF-8 into U+FFFD"],
    ["digest-auth GET /w/f.txt #44", "uWS decodes header values as UTF-8: a Digest user name's bytes are not latin-1 characters"],
  ]),
  node: new Map([
    ["non-ascii GET /app/caf\u00c3\u00a9?q=\u00c3\u00a9 #3", "llhttp refuses bytes beyond ASCII in the target with 400"],
    ["non-ascii GET /app/x\u00e9 #4", "llhttp refuses bytes beyond ASCII in the target with 400"],
  ]),
};

const engines = [["js", () => jsEngine], ["native", () => createNativeEngine()]];
const frontEnds = ["node", "uws"];

for (const [engineName, makeEngine] of engines) {
  for (const frontEnd of frontEnds) {
    describe(`conformance: ${engineName} engine, ${frontEnd} front end`, () => {
      for (const exp of expectedScenarios()) {
        if (NEEDS_DAEMONS.has(exp.name)) continue;
        describe(exp.name, { skip: !canPrepare(exp) && "needs root (it chowns files or switches user)" }, () => {
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
            const limit = LIMITS[frontEnd].get(key);
            it(`${req.method} ${req.target}`, { skip: limit ? `known ${frontEnd} front-end limit: ${limit}` : false }, async () => {
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
