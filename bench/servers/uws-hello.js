"use strict";
// Raw uWebSockets.js hello world: the ceiling every nodewsgi row is compared with.
// The binary is loaded the way src/http/uws-front-end.ts's loadUws does it.
const path = require("node:path");

const port = Number(process.argv[2]);
const dir = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
const uws = require(path.join(dir, "binaries", `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`));

uws
  .App()
  .any("/*", (res) => {
    res.writeStatus("200 OK").writeHeader("Content-Type", "text/plain").end("Hello World!");
  })
  .listen("127.0.0.1", port, (socket) => {
    if (!socket) {
      process.stderr.write(`uws-hello: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
    process.stdout.write(`listening ${port}\n`);
  });
