"use strict";
// Raw uWebSockets.js hello world: the ceiling every nodewsgi row is compared with.
// The binary is loaded the way src/http/uws-front-end.ts's loadUws does it.
// An optional second argument spins that many microseconds per request before answering: the
// "headroom" set (bench/plan.js) shows what share of raw uWS a server keeps that adds that much.
const path = require("node:path");
const { performance } = require("node:perf_hooks");

const port = Number(process.argv[2]);
const busyMs = Number(process.argv[3] ?? 0) / 1000;
const dir = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
const uws = require(path.join(dir, "binaries", `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`));

/** Spin until `ms` have passed: a clock, unlike a loop count, does not depend on what the JIT makes of the loop. */
function busy(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

uws
  .App()
  .any("/*", (res) => {
    if (busyMs > 0) busy(busyMs);
    res.writeStatus("200 OK").writeHeader("Content-Type", "text/plain").end("Hello World!");
  })
  .listen("127.0.0.1", port, (socket) => {
    if (!socket) {
      process.stderr.write(`uws-hello: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
    process.stdout.write(`listening ${port}\n`);
  });
