"use strict";
// Raw uWebSockets.js hello world: the ceiling every nodewsgi row is compared with.
// An optional second argument spins that many microseconds per request before answering: the
// "headroom" set (bench/plan.js) shows what share of raw uWS a server keeps that adds that much.
// An optional third one, a byte count, answers a request declaring a longer body with Apache's
// 413 page without reading the body: what that request shape costs a server that does nothing else.
const { performance } = require("node:perf_hooks");

const port = Number(process.argv[2]);
const busyMs = Number(process.argv[3] ?? 0) / 1000;
const refuseOver = Number(process.argv[4] ?? 0);
const PAGE_413 = Buffer.from(
  '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n<html><head>\n<title>413 Request Entity Too Large</title>\n</head><body>\n<h1>Request Entity Too Large</h1>\nThe requested resource does not allow request data with POST requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n</body></html>\n',
);
const { uws, listen } = require("../lib/uws.js");

/** Spin until `ms` have passed: a clock, unlike a loop count, does not depend on what the JIT makes of the loop. */
function busy(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const app = uws.App().any("/*", (res, req) => {
    if (busyMs > 0) busy(busyMs);
    if (refuseOver > 0 && Number(req.getHeader("content-length") || 0) > refuseOver) {
      res.writeStatus("413 Request Entity Too Large").writeHeader("Content-Type", "text/html; charset=iso-8859-1").end(PAGE_413);
      return;
    }
    res.writeStatus("200 OK").writeHeader("Content-Type", "text/plain").end("Hello World!");
});
listen(app, port, "uws-hello");
