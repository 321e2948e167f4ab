"use strict";
/**
 * A ResponseSink double that records what it was given, for tests that drive the gateway or a
 * group without a socket. `writable: false` makes write() report backpressure until release();
 * `slow` makes write() report it at random and drain() take a timer turn.
 */
const assert = require("node:assert/strict");

function recordingSink({ writable = true, slow = false } = {}) {
  const abortCbs = [];
  const s = {
    aborted: false,
    /** { status, reason, headers } once writeHead ran; status and headers also stand alone. */
    head: null,
    status: 0,
    headers: null,
    chunks: [],
    size: 0,
    ended: false,
    destroyed: false,
    writable,
    drains: 0,
    drainResolvers: [],
    onAbort(cb) {
      abortCbs.push(cb);
    },
    writeHead(status, reason, headers) {
      assert.equal(s.head, null, "writeHead once");
      s.head = { status, reason, headers: headers.map((h) => [...h]) };
      s.status = status;
      s.headers = s.head.headers;
    },
    write(chunk) {
      assert.ok(s.head, "headers before body");
      assert.ok(!s.ended, "no write after end");
      s.chunks.push(Buffer.from(chunk));
      s.size += chunk.length;
      return slow ? Math.random() < 0.5 : s.writable;
    },
    drain() {
      s.drains++;
      if (slow) return new Promise((r) => setTimeout(r, 1));
      if (s.writable) return Promise.resolve();
      return new Promise((r) => s.drainResolvers.push(r));
    },
    end(chunk) {
      assert.ok(s.head, "headers before end");
      assert.ok(!s.ended, "end once");
      if (chunk) {
        s.chunks.push(Buffer.from(chunk));
        s.size += chunk.length;
      }
      s.ended = true;
    },
    destroy() {
      s.destroyed = true;
    },
    /** The client goes away. */
    abort() {
      s.aborted = true;
      for (const cb of abortCbs.splice(0)) cb();
    },
    /** The client reads again: pending drains resolve. */
    release() {
      s.writable = true;
      for (const r of s.drainResolvers.splice(0)) r();
    },
    get body() {
      return Buffer.concat(s.chunks);
    },
    get text() {
      return s.body.toString();
    },
  };
  return s;
}

module.exports = { recordingSink };
