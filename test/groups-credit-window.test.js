"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { CreditWindow, ClientRelay } = require("../dist/groups/credit-window.js");

class Sender extends CreditWindow {
  write(n) {
    return this.sent(n);
  }
  over() {
    this.releaseWindow();
  }
  get outstanding() {
    return this.unacked;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

test("write() returns false once the window is reached, not only past it", () => {
  const w = new Sender(100);
  assert.equal(w.write(99), true);
  assert.equal(w.write(1), false, "exactly `window` bytes unacknowledged is full");
  const v = new Sender(100);
  assert.equal(v.write(250), false, "a write larger than the window is sent and pushes back");
  assert.equal(v.outstanding, 250);
});

test("drain() is immediate while there is room, and waits for credit below the window", async () => {
  const w = new Sender(100);
  w.write(50);
  assert.equal(w.drain(), w.drain(), "no promise made per call while there is room");
  w.write(50);
  let drained = 0;
  w.drain().then(() => drained++);
  w.drain().then(() => drained++);
  await tick();
  assert.equal(drained, 0);
  w.credit(0);
  await tick();
  assert.equal(drained, 0, "still at the window");
  w.credit(1);
  await tick();
  assert.equal(drained, 2, "every waiter released once below the window");
  assert.equal(w.outstanding, 99);
});

test("release (abort, destroy) ends every wait and later drain() calls at once", async () => {
  const w = new Sender(10);
  w.write(30);
  let drained = false;
  w.drain().then(() => (drained = true));
  await tick();
  assert.equal(drained, false);
  w.over();
  await tick();
  assert.equal(drained, true);
  let later = false;
  w.drain().then(() => (later = true));
  await tick();
  assert.equal(later, true);
});

/** A relay over frames { chunk?, end? } recording what reached the sink and what was credited. */
class Relay extends ClientRelay {
  constructor(sink) {
    super();
    this.sink = sink;
    this.credited = [];
    this.events = [];
  }
  frame(f) {
    if (this.holding) this.hold(f);
    else this.apply(f);
  }
  apply(f) {
    if (f.chunk) this.writeChunk(this.sink, f.chunk);
    if (f.end) this.sink.end();
  }
  credit(n) {
    this.credited.push(n);
  }
  onHold() {
    this.events.push("hold");
  }
  onResume() {
    this.events.push("resume");
  }
  finish() {
    this.dropRelay();
  }
}

function clientSink() {
  const s = {
    aborted: false,
    open: true,
    written: [],
    ended: false,
    drains: 0,
    waiters: [],
    write(c) {
      s.written.push(c.length);
      return s.open;
    },
    drain() {
      s.drains++;
      return s.open ? Promise.resolve() : new Promise((r) => s.waiters.push(r));
    },
    end() {
      s.ended = true;
    },
    let(open) {
      s.open = open;
      for (const r of s.waiters.splice(0)) r();
    },
  };
  return s;
}

test("a sink that takes the bytes gets them credited at once, with no drain() call", () => {
  const s = clientSink();
  const r = new Relay(s);
  r.frame({ chunk: Buffer.alloc(10) });
  r.frame({ chunk: Buffer.alloc(5), end: true });
  assert.deepEqual(r.credited, [10, 5]);
  assert.equal(s.drains, 0);
  assert.equal(s.ended, true);
  assert.equal(r.holding, false);
});

test("a pushed-back chunk is credited after drain(); later frames wait and follow in order", async () => {
  const s = clientSink();
  s.open = false;
  const r = new Relay(s);
  r.frame({ chunk: Buffer.alloc(10) });
  assert.equal(r.holding, true);
  r.frame({ chunk: Buffer.alloc(20) });
  r.frame({ chunk: Buffer.alloc(30), end: true });
  await tick();
  assert.deepEqual(s.written, [10], "nothing written past the sink's backpressure");
  assert.deepEqual(r.credited, [], "nothing credited before the drain");
  assert.equal(s.ended, false);
  s.let(true);
  await tick();
  assert.deepEqual(s.written, [10, 20, 30]);
  assert.deepEqual(r.credited, [10, 20, 30]);
  assert.equal(s.ended, true);
  assert.deepEqual(r.events, ["hold", "resume"]);
  assert.equal(r.holding, false);
});

test("a replayed chunk that pushes back again holds the rest until the next drain", async () => {
  const s = clientSink();
  s.open = false;
  const r = new Relay(s);
  r.frame({ chunk: Buffer.alloc(1) });
  r.frame({ chunk: Buffer.alloc(2) });
  r.frame({ chunk: Buffer.alloc(3) });
  s.let(false); // drained, but the next write pushes back again
  await tick();
  assert.deepEqual(s.written, [1, 2]);
  assert.deepEqual(r.credited, [1]);
  assert.equal(r.holding, true);
  r.frame({ chunk: Buffer.alloc(4) });
  s.let(true);
  await tick();
  assert.deepEqual(s.written, [1, 2, 3, 4]);
  assert.deepEqual(r.credited, [1, 2, 3, 4]);
});

test("the client leaving ends the wait (the backlog goes on, to a dead sink); a finished relay credits nothing", async () => {
  const s = clientSink();
  s.open = false;
  const r = new Relay(s);
  r.frame({ chunk: Buffer.alloc(7) });
  r.frame({ end: true });
  r.clientLeft();
  await tick();
  assert.deepEqual(r.credited, [7]);
  assert.equal(s.ended, true);

  const s2 = clientSink();
  s2.open = false;
  const r2 = new Relay(s2);
  r2.frame({ chunk: Buffer.alloc(7) });
  r2.frame({ end: true });
  r2.finish();
  await tick();
  assert.deepEqual(r2.credited, []);
  assert.equal(s2.ended, false);
  assert.equal(r2.holding, false);
});
