"use strict";
/**
 * The streamed-upload memory check: POST `mib` MiB (Content-Length known, sent in 1 MiB writes that
 * respect backpressure) to an application that reads and discards the body, sampling the server
 * process tree's RSS every 50 ms. A server that buffers the body grows by its size; one that
 * streams grows by a few buffers.
 */
const http = require("node:http");
const { startServer, request, DidNotStart } = require("./servers");
const { rssByPid } = require("./proc");

const CHUNK = Buffer.alloc(1024 * 1024, "u");

// uWebSockets.js 20.30 closes the connection, without a response, when Content-Length has ten or
// more digits (checked: 999999999 is served, 1000000000 is dropped), and chunked request bodies get
// 411 from nodewsgi; so "1 GB" is sent as the largest body the front end accepts.
const MAX_CONTENT_LENGTH = 999_999_999;

/** `onSent` is called once the last byte has been handed to the socket. */
function upload(port, path, total, timeoutMs, onSent = () => {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", agent: false, headers: { "content-type": "application/octet-stream", "content-length": String(total) } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString().slice(0, 200) }));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`not finished within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on("close", () => clearTimeout(timer));
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(CHUNK.length, total - sent);
        sent += n;
        const ok = req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
        if (!ok) return void req.once("drain", pump);
      }
      onSent();
      req.end();
    };
    pump();
  });
}

/**
 * Resolves { bytes, capped, growthBytes, sendingGrowthBytes, baselineBytes, peakBytes, processes, mibPerS, status, note }
 * or { mib, skipped }. `processes` is each process of the server's tree apart ({ pid, role,
 * baselineBytes, peakBytes, growthBytes }: the server itself first, then its children, e.g. a
 * daemon group's process); growthBytes is the peak of their sum less the sum before.
 */
async function uploadCheck(spec, path, mib, ctx) {
  let server;
  try {
    server = await startServer(spec, ctx);
  } catch (err) {
    return { mib, skipped: err instanceof DidNotStart ? `did not start: ${err.message}` : `did not start: ${err.message}` };
  }
  try {
    // Warm the path (script load, first buffers) so the baseline is the steady state.
    for (let i = 0; i < 5; i++) {
      const r = await request(server.port, path, { method: "POST", body: Buffer.alloc(64 * 1024, "w") });
      if (r.status !== 200) return { mib, skipped: `wrong response: POST ${path} gave ${r.status} ${r.body.toString().slice(0, 120)}` };
    }
    if (global.gc) global.gc();
    // Per process: a daemon group's child is found among the server's /proc descendants.
    const base = rssByPid(server.pid);
    const peaks = new Map(base);
    const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
    const baselineBytes = sum(base);
    let peakBytes = baselineBytes;
    // Which phase grew: while the body arrives (the front end and the spool), and after its
    // last byte (the spool draining, then the application reading the body back).
    let sendingPeakBytes = baselineBytes;
    let sending = true;
    const sample = () => {
      const now = rssByPid(server.pid);
      for (const [pid, b] of now) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, b));
      const rss = sum(now);
      peakBytes = Math.max(peakBytes, rss);
      if (sending) sendingPeakBytes = Math.max(sendingPeakBytes, rss);
    };
    const sampler = setInterval(sample, 50);
    const total = Math.min(mib * 1024 * 1024, MAX_CONTENT_LENGTH);
    const capped = total < mib * 1024 * 1024;
    const t0 = process.hrtime.bigint();
    let res;
    try {
      res = await upload(server.port, path, total, 180_000, () => {
        sending = false;
      });
    } catch (err) {
      const logTail = server.logTail();
      return { mib, skipped: `upload failed: ${err.message}${logTail ? ` (server error log: ${logTail})` : ""}` };
    } finally {
      clearInterval(sampler);
    }
    sample();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const processes = [...peaks].map(([pid, peak]) => {
      const before = base.get(pid) ?? 0;
      return { pid, role: pid === server.pid ? "server" : "child", baselineBytes: before, peakBytes: peak, growthBytes: peak - before };
    });
    const note = res.status === 200 && res.body.trim() === String(total) ? null : `the app did not report ${total} bytes: status ${res.status}, body ${JSON.stringify(res.body)}`;
    return { mib, bytes: total, capped, baselineBytes, peakBytes, growthBytes: peakBytes - baselineBytes, sendingGrowthBytes: sendingPeakBytes - baselineBytes, processes, seconds, mibPerS: total / 2 ** 20 / seconds, status: res.status, note };
  } finally {
    await server.stop();
  }
}

module.exports = { uploadCheck, MAX_CONTENT_LENGTH };
