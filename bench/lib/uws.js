"use strict";
// The raw uWebSockets.js servers' shared parts: the binary, loaded the way
// src/http/uws-front-end.ts's loadUws does it, and listening on 127.0.0.1 with the readiness line
// bench/lib/servers.js waits for.
const path = require("node:path");

const dir = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
const uws = require(path.join(dir, "binaries", `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`));

/** Listen with `app` on 127.0.0.1:`port`; `name` is for the error when the port cannot be bound. */
function listen(app, port, name) {
  app.listen("127.0.0.1", port, (socket) => {
    if (!socket) {
      process.stderr.write(`${name}: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
    process.stdout.write(`listening ${port}\n`);
  });
}

module.exports = { uws, listen };
