"use strict";
// A response head larger than MAX_FRAME is refused by the child's Outbox (so that request gets a
// 500), never sent as a frame the supervisor's reader would refuse with the whole connection.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { Outbox, MAX_FRAME } = require("../dist/groups/daemon-protocol");

test("Outbox.responseHead refuses a head beyond MAX_FRAME and writes nothing; a large one under it goes", () => {
  const written = [];
  const fake = { destroyed: false, write(b) { written.push(Buffer.from(b)); return true; }, cork() {}, uncork() {} };
  const out = new Outbox(fake, false);
  const huge = "x".repeat(MAX_FRAME);
  assert.equal(out.responseHead(1, 200, "OK", [["X-Big", huge]]), false);
  out.flush();
  assert.equal(written.length, 0, "no frame for the refused head");
  // Over the cheap 3-bytes-per-char bound but under the limit in bytes: still sent.
  const big = "y".repeat(MAX_FRAME / 2);
  assert.equal(out.responseHead(2, 200, "OK", [["X-Big", big]]), true);
  out.flush();
  assert.ok(Buffer.concat(written).length > MAX_FRAME / 2);
});

test("Outbox.head refuses a request whose environ would exceed MAX_FRAME, writes nothing and forgets its layout", () => {
  const { EnvironLayouts, LayoutTable } = require("../dist/groups/environ-codec");
  const { decodeHead, FrameReader } = require("../dist/groups/daemon-protocol");
  const written = [];
  const fake = { destroyed: false, write(b) { written.push(Buffer.from(b)); return true; }, cork() {}, uncork() {} };
  const out = new Outbox(fake, false);
  out.layouts = new EnvironLayouts();
  const req = (v) => ({
    script: "/s.wsgi", callable: "application", applicationGroup: "", processGroup: "g", method: "GET", logPrefix: "",
    environ: ["HTTP_X", v, "REQUEST_URI", "/"], urlScheme: "http", multithread: true, multiprocess: false, runOnce: false, bodyLimit: 0,
  });
  assert.equal(out.head(1, { req: req("small"), declaredLength: -1, chunked: false }), true);
  assert.equal(out.head(2, { req: req("x".repeat(MAX_FRAME)), declaredLength: -1, chunked: false }), false);
  assert.equal(out.head(3, { req: req("after"), declaredLength: -1, chunked: false }), true);
  out.flush();
  const table = new LayoutTable();
  const got = [];
  new FrameReader((t, id, p) => got.push([id, decodeHead(Buffer.from(p), table).req.environ])).push(Buffer.concat(written));
  // The refused request left no frame, and the next one of the same layout still decodes.
  assert.deepEqual(got, [[1, ["HTTP_X", "small", "REQUEST_URI", "/"]], [3, ["HTTP_X", "after", "REQUEST_URI", "/"]]]);
});
