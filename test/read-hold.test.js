"use strict";
// ReadHold (src/http/read-hold.ts) on a socket node:http has paused itself: releasing the hold
// must leave the socket to node's drain handler (node asserts its paused parser never gets data).
const test = require("node:test");
const assert = require("node:assert/strict");
const { EventEmitter } = require("node:events");
const { ReadHold } = require("../dist/http/read-hold");

function fakeSocket() {
  const s = new EventEmitter();
  s.destroyed = false;
  s.readableFlowing = null;
  s.resumes = 0;
  s.pause = () => {
    s.readableFlowing = false;
  };
  s.resume = () => {
    s.resumes++;
    s.readableFlowing = true;
    s.emit("resume");
  };
  return s;
}

test("release reads the socket again, unless node:http holds it paused for its own backlog", () => {
  const hold = new ReadHold();
  const mine = fakeSocket();
  hold.hold(mine);
  assert.equal(mine.readableFlowing, false);
  hold.release(mine);
  assert.equal(mine.resumes, 1);
  assert.equal(hold.isHeld(mine), false);

  const nodes = fakeSocket();
  hold.hold(nodes);
  nodes._paused = true; // parserOnIncoming paused it: responses backed up
  hold.release(nodes);
  assert.equal(nodes.resumes, 0, "resumed under node's own pause");
  assert.equal(hold.isHeld(nodes), false);
  // node's drain handler resumes it later; the released hold no longer pauses it again.
  nodes._paused = false;
  nodes.resume();
  assert.equal(nodes.readableFlowing, true);
});
