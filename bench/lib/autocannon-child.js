"use strict";
/**
 * One autocannon run through its JS API, in its own process so the runner can pin it to a core
 * away from the server. argv[2] is a JSON spec { url, connections, durationS, request }; the last
 * stdout line is the result in bench/lib/load.js's common shape.
 */
const autocannon = require("autocannon");

const spec = JSON.parse(process.argv[2]);
let n = 0;
function suffix(k) {
  let s = "";
  do {
    s += String.fromCharCode(97 + (k % 26));
    k = Math.floor(k / 26);
  } while (k > 0);
  return s;
}
const req = spec.request ?? {};
const headers = {};
let body;
if (req.bodyBytes) {
  body = Buffer.alloc(req.bodyBytes, "a");
  headers["content-type"] = "application/octet-stream";
}
if (req.padHeaderBytes) headers["x-bench-pad"] = "p".repeat(req.padHeaderBytes);

autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    method: req.method ?? "GET",
    headers,
    body,
    timeout: 10,
    // As the wrk script does: a different URL-path per request, cycling (see load.js).
    ...(req.distinctPaths ? { requests: [{ setupRequest: (r) => ({ ...r, path: req.path + suffix((n = (n + 1) % req.distinctPaths)) }) }] } : {}),
  },
  (err, result) => {
    if (err) {
      process.stderr.write(`autocannon: ${err.message}\n`);
      process.exit(1);
    }
    const durationS = result.duration;
    const requests = result.requests.total;
    process.stdout.write(
      `${JSON.stringify({
        requests,
        durationS,
        rps: requests / durationS,
        p50us: result.latency.p50 * 1000,
        p99us: result.latency.p99 * 1000,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
      })}\n`,
    );
  },
);
