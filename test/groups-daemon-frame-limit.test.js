"use strict";
// A response head larger than MAX_FRAME is refused by the child's Outbox (so that request gets a
// 502), never sent as a frame the supervisor's reader would refuse with the whole connection.
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
