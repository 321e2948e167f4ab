"use strict";
// HTTP clients for the tests that run a real server on 127.0.0.1: one request with node:http,
// or raw bytes over a socket. No agent, so no connection outlives its request.
const http = require("node:http");
const net = require("node:net");

/**
 * One request. `where` is a port on 127.0.0.1 or an `http://` URL (then `target` is ignored when
 * omitted). Resolves with { status, headers, body (a string), bytes (a Buffer) }; rejects on a
 * socket error or when no response has come after `timeoutMs`. No agent unless one is given.
 */
function request(where, target, { method = "GET", headers = {}, body, localAddress, agent = false, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { method, headers, agent, ...(localAddress ? { localAddress } : {}) };
    const req = typeof where === "number"
      ? http.request({ host: "127.0.0.1", port: where, path: target, ...opts }, onResponse)
      : http.request(target === undefined ? where : new URL(target, where), opts, onResponse);
    function onResponse(res) {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: bytes.toString(), bytes });
      });
      res.on("error", reject);
    }
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response in ${timeoutMs} ms`)));
    req.end(body);
  });
}

/** GET `target` (with extra request headers). */
function get(where, target, headers = {}) {
  return request(where, target, { headers });
}

/**
 * Write `text` as is and collect everything that comes back (latin1) until the server closes the
 * connection, or `waitMs` has passed (then the client closes it). The default bound is generous:
 * the exchanges that use it end with the server's close, so it only stops a broken run.
 */
function raw(port, text, { waitMs = 30_000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect(port, "127.0.0.1", () => s.write(text));
    const timer = setTimeout(() => s.destroy(), waitMs);
    s.on("data", (c) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

/** The status code of a raw response. */
const statusOf = (response) => Number(response.split(" ")[1]);

/** A port that was free a moment ago (for configurations that must name it, as `<VirtualHost *:PORT>`). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

module.exports = { request, get, raw, statusOf, freePort };
