/**
 * The SharedArrayBuffer request queue between the front-end thread and an application group's
 * worker: a single-producer single-consumer ring of variable-size frames, one ring per
 * direction. Frames are written straight into shared memory, so a hand-off costs a few
 * memory copies and two Atomics stores instead of a structured clone and a message event.
 *
 * Layout of one ring's SharedArrayBuffer:
 *
 *   control block (256 bytes, each word on its own 64-byte cache line, to avoid false sharing):
 *     HEAD           bytes written so far (u32, wraps; owned by the producer)
 *     TAIL           bytes consumed so far (u32, wraps; owned by the consumer)
 *     SLEEPING       1 while the consumer waits for frames on HEAD
 *     SPACE_WANTED   1 while the producer waits for room on TAIL
 *     USER0..        spare words for the protocol on top (the worker's "requests started")
 *   data (capacity bytes, a power of two)
 *
 * A frame is an 8-byte header (payload length as i32; -1 pads to the end of the ring) and
 * the payload, padded to 8 bytes, never split across the end of the ring.
 *
 * Wake-ups are batched: a producer notifies only when the consumer has said it sleeps, and at
 * most once per event-loop turn (from setImmediate), so a burst of frames costs one wake-up. Neither side ever
 * blocks: both wait with Atomics.waitAsync (the front-end thread must not block; worker
 * threads must keep running their async applications between frames). A pending waitAsync
 * does not keep Node's event loop alive: the owner keeps a ref'd handle (the Worker object on
 * the main side, the parentPort listener in the worker).
 *
 * What the frames carry is ./queue-protocol's business; this module only moves bytes.
 */
import { NodewsgiError } from "../errors";

const CONTROL_BYTES = 256;
const HEAD = 0;
const TAIL = 16;
const SLEEPING = 32;
const SPACE_WANTED = 48;
/** First control word free for the protocol above the ring (there are 4: USER0 + 0..3). */
export const USER0 = 60;
const PAD = -1;
const HEADER = 8;

const align8 = (n: number): number => (n + 7) & ~7;

/** A new ring's shared memory. `capacity` is rounded up to a power of two, at least 4 KiB. */
export function createRing(capacity: number): SharedArrayBuffer {
  let cap = 4096;
  while (cap < capacity) cap *= 2;
  if (cap > 1 << 30) throw new NodewsgiError("E_QUEUE_SIZE", `Request queue of ${capacity} bytes is too large`);
  return new SharedArrayBuffer(CONTROL_BYTES + cap);
}

class Ring {
  readonly ctl: Int32Array;
  /** The whole SharedArrayBuffer as a Buffer; frame offsets index into it. */
  readonly buf: Buffer;
  readonly capacity: number;
  protected readonly mask: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.buf = Buffer.from(sab);
    this.capacity = sab.byteLength - CONTROL_BYTES;
    if (this.capacity < 4096 || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new NodewsgiError("E_QUEUE_SIZE", "Ring capacity must be a power of two of at least 4096 bytes");
    }
    this.mask = this.capacity - 1;
  }
}

/** Fills a frame's payload starting at `off` in `buf`; returns the payload length written. */
export type FrameFill = (buf: Buffer, off: number) => number;

/**
 * The writing end. `write` never blocks and never fails: a frame that does not fit now is
 * encoded into private memory and copied in when the consumer makes room. Callers bound how
 * much can be outstanding (admission control, per-request credit), so the overflow is bounded.
 */
export class RingProducer extends Ring {
  /** The largest payload one frame may carry. */
  readonly maxPayload: number;
  private head: number;
  private readonly overflow: Buffer[] = [];
  private notifyQueued = false;
  private waitingForSpace = false;
  private closed = false;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.maxPayload = this.capacity / 2 - HEADER;
    this.head = Atomics.load(this.ctl, HEAD) >>> 0;
  }

  /** Frames waiting for room in the ring. */
  get backlog(): number {
    return this.overflow.length;
  }

  /** Write one frame of at most `maxBytes` payload bytes. */
  write(maxBytes: number, fill: FrameFill): void {
    if (maxBytes > this.maxPayload) throw new NodewsgiError("E_FRAME_SIZE", `Frame of ${maxBytes} bytes exceeds the queue's ${this.maxPayload}`);
    if (this.closed) return;
    if (this.overflow.length === 0) {
      const off = this.reserve(maxBytes);
      if (off >= 0) {
        this.commit(fill(this.buf, off));
        return;
      }
    }
    const tmp = Buffer.allocUnsafe(maxBytes);
    const n = fill(tmp, 0);
    this.overflow.push(n === maxBytes ? tmp : tmp.subarray(0, n));
    this.waitForSpace();
  }

  /** Stop writing (the consumer is gone); pending frames are dropped. */
  close(): void {
    this.closed = true;
    this.overflow.length = 0;
  }

  /** Offset for a payload of up to `maxBytes`, wrapping with a pad frame; -1 when full. */
  private reserve(maxBytes: number): number {
    const need = align8(HEADER + maxBytes);
    const tail = Atomics.load(this.ctl, TAIL) >>> 0;
    const free = this.capacity - ((this.head - tail) >>> 0);
    const at = this.head & this.mask;
    const contiguous = this.capacity - at;
    if (need <= contiguous) {
      return free >= need ? CONTROL_BYTES + at + HEADER : -1;
    }
    if (free < contiguous + need) return -1;
    this.buf.writeInt32LE(PAD, CONTROL_BYTES + at);
    this.head = (this.head + contiguous) >>> 0;
    return CONTROL_BYTES + HEADER;
  }

  private commit(payload: number): void {
    const at = this.head & this.mask;
    this.buf.writeInt32LE(payload, CONTROL_BYTES + at);
    this.head = (this.head + align8(HEADER + payload)) >>> 0;
    Atomics.store(this.ctl, HEAD, this.head | 0);
    // Seq-cst store of HEAD then load of SLEEPING pairs with the consumer's store of
    // SLEEPING then load of HEAD: one of the two always sees the other.
    if (!this.notifyQueued && Atomics.load(this.ctl, SLEEPING) !== 0) {
      this.notifyQueued = true;
      setImmediate(this.notify);
    }
  }

  private readonly notify = (): void => {
    this.notifyQueued = false;
    Atomics.notify(this.ctl, HEAD);
  };

  private flushOverflow(): void {
    while (this.overflow.length > 0) {
      const frame = this.overflow[0];
      const off = this.reserve(frame.length);
      if (off < 0) return;
      frame.copy(this.buf, off);
      this.overflow.shift();
      this.commit(frame.length);
    }
  }

  private waitForSpace(): void {
    if (this.waitingForSpace || this.closed) return;
    this.waitingForSpace = true;
    const loop = (): void => {
      for (;;) {
        this.flushOverflow();
        if (this.overflow.length === 0 || this.closed) {
          this.waitingForSpace = false;
          return;
        }
        const tail = Atomics.load(this.ctl, TAIL);
        Atomics.store(this.ctl, SPACE_WANTED, 1);
        if (Atomics.load(this.ctl, TAIL) !== tail) continue;
        const w = Atomics.waitAsync(this.ctl, TAIL, tail);
        if (w.async) {
          w.value.then(loop);
          return;
        }
      }
    };
    loop();
  }
}

/** Handles one frame: the payload is `buf[off, off + len)`, valid only during the call. */
export type FrameHandler = (buf: Buffer, off: number, len: number) => void;

/** The reading end: drains every available frame, then sleeps with Atomics.waitAsync. */
export class RingConsumer extends Ring {
  private tail: number;
  private running = false;
  private stopped = false;

  constructor(
    sab: SharedArrayBuffer,
    private readonly onFrame: FrameHandler,
    /** A handler that throws must not stop the ring: the error goes here. */
    private readonly onError: (err: unknown) => void = () => undefined,
    /**
     * After the ring runs empty, keep polling it once per event-loop turn for this long before
     * sleeping: under load the producer then never has to pay for a cross-thread wake-up.
     */
    spinMicros = 0,
  ) {
    super(sab);
    this.tail = Atomics.load(this.ctl, TAIL) >>> 0;
    this.spinMs = spinMicros / 1000;
  }

  private readonly spinMs: number;
  private idleSince = -1;

  /** Start the wait-and-drain loop. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loop();
  }

  /** Stop reading (frames still in the ring are left there). */
  stop(): void {
    this.stopped = true;
    // Wake our own pending waitAsync so its promise settles instead of lingering.
    Atomics.notify(this.ctl, HEAD);
  }

  /** Handle every frame currently in the ring; returns how many. */
  drain(): number {
    let n = 0;
    const buf = this.buf;
    for (;;) {
      const head = Atomics.load(this.ctl, HEAD) >>> 0;
      if (head === this.tail) break;
      while (this.tail !== head && !this.stopped) {
        const at = this.tail & this.mask;
        const len = buf.readInt32LE(CONTROL_BYTES + at);
        if (len === PAD) {
          this.tail = (this.tail + (this.capacity - at)) >>> 0;
          continue;
        }
        try {
          this.onFrame(buf, CONTROL_BYTES + at + HEADER, len);
        } catch (err) {
          this.onError(err);
        }
        this.tail = (this.tail + align8(HEADER + len)) >>> 0;
        Atomics.store(this.ctl, TAIL, this.tail | 0);
        n++;
      }
      if (this.stopped) break;
    }
    if (n > 0 && Atomics.load(this.ctl, SPACE_WANTED) !== 0) {
      Atomics.store(this.ctl, SPACE_WANTED, 0);
      Atomics.notify(this.ctl, TAIL);
    }
    return n;
  }

  private readonly loop = (): void => {
    while (!this.stopped) {
      if (this.drain() > 0) this.idleSince = -1;
      if (this.stopped) break;
      if (this.spinMs > 0) {
        const now = performance.now();
        if (this.idleSince < 0) this.idleSince = now;
        if (now - this.idleSince < this.spinMs) {
          setImmediate(this.loop);
          return;
        }
      }
      this.idleSince = -1;
      const head = Atomics.load(this.ctl, HEAD);
      Atomics.store(this.ctl, SLEEPING, 1);
      if ((head >>> 0) !== this.tail || (Atomics.load(this.ctl, HEAD) >>> 0) !== this.tail) {
        Atomics.store(this.ctl, SLEEPING, 0);
        continue;
      }
      const w = Atomics.waitAsync(this.ctl, HEAD, head);
      if (w.async) {
        w.value.then(this.wake);
        return;
      }
      Atomics.store(this.ctl, SLEEPING, 0);
    }
    this.running = false;
  };

  private readonly wake = (): void => {
    Atomics.store(this.ctl, SLEEPING, 0);
    this.loop();
  };
}
