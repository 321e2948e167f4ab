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
 * most once per microtask checkpoint, so a burst of frames costs one wake-up. Neither side ever
 * blocks: both wait with Atomics.waitAsync (the front-end thread must not block; worker
 * threads must keep running their async applications between frames). A pending waitAsync
 * does not keep Node's event loop alive: the owner keeps a ref'd handle (the Worker object on
 * the main side, the parentPort listener in the worker).
 */
import { NodewsgiError } from "../errors";
import type { AppRequest } from "./types";

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

// ---------------------------------------------------------------------------------------------
// The protocol carried by the rings. All integers little-endian; strings UTF-8, a list of
// strings joined with NUL (or, when one of them contains a NUL, as JSON: flag STRINGS_JSON).

/** Front end -> worker. */
export const F_REQUEST = 1;
export const F_ABORT = 2;
export const F_CREDIT = 3;
export const F_PRELOAD = 4;
/** Worker -> front end. */
export const F_RESPONSE = 16;
export const F_LOG = 17;
export const F_PRELOADED = 18;

/** F_RESPONSE flags: which parts the frame carries, in this order. */
export const R_HEAD = 1;
export const R_BODY = 2;
export const R_END = 4;
export const R_DONE = 8;
export const R_DESTROY = 16;
const STRINGS_JSON = 128;

const Q_MULTITHREAD = 1;
const Q_MULTIPROCESS = 2;
const Q_RUN_ONCE = 4;
const Q_HTTPS = 8;

const REQ_FIXED = 44;
const RESP_FIXED = 8;
const RESP_HEAD_FIXED = 16;

/** Control word in the request ring: how many requests the worker has started (FIFO). */
export const STARTED_WORD = USER0;

function joinStrings(list: readonly string[]): { text: string; json: boolean } {
  const text = list.join("\0");
  // A NUL inside a string would shift every later one; JSON escapes it (rare: HTTP forbids NUL).
  if (text.length === 0 || !hasExtraNul(text, list.length - 1)) return { text, json: false };
  return { text: JSON.stringify(list), json: true };
}

function hasExtraNul(text: string, separators: number): boolean {
  let n = 0;
  for (let i = text.indexOf("\0"); i >= 0; i = text.indexOf("\0", i + 1)) if (++n > separators) return true;
  return false;
}

function splitStrings(buf: Buffer, start: number, end: number, count: number, json: boolean): string[] {
  if (count === 0) return [];
  const text = buf.toString("utf8", start, end);
  return json ? (JSON.parse(text) as string[]) : text.split("\0");
}

/** A request's body as it crosses: none, inline bytes, or a spool file descriptor. */
export interface BodyRef {
  readonly length: number;
  /** A descriptor of this process open on the spooled body (the front end closes it), or -1. */
  readonly fd: number;
  /** The bytes when `fd` is -1 (length `length`). */
  readonly data: Uint8Array | null;
}

export interface DecodedRequest {
  readonly id: number;
  readonly req: AppRequest;
  readonly body: BodyRef;
}

/** Upper bound of a request frame's size (to check it against the ring before sending). */
export function requestFrameBound(req: AppRequest, inlineBody: number): { bound: number; text: string; json: boolean } {
  const { text, json } = joinStrings([req.script, req.callable, req.applicationGroup, req.processGroup, req.method, req.logPrefix, ...req.environ]);
  return { bound: REQ_FIXED + text.length * 3 + inlineBody, text, json };
}

export function writeRequest(out: RingProducer, id: number, req: AppRequest, body: BodyRef, pre = requestFrameBound(req, body.fd < 0 ? body.length : 0)): void {
  const count = 6 + req.environ.length;
  out.write(pre.bound, (b, o) => {
    const flags =
      (req.multithread ? Q_MULTITHREAD : 0) |
      (req.multiprocess ? Q_MULTIPROCESS : 0) |
      (req.runOnce ? Q_RUN_ONCE : 0) |
      (req.urlScheme === "https" ? Q_HTTPS : 0) |
      (pre.json ? STRINGS_JSON : 0);
    b[o] = F_REQUEST;
    b[o + 1] = flags;
    b.writeUInt16LE(0, o + 2);
    b.writeUInt32LE(id, o + 4);
    b.writeDoubleLE(req.scriptMtimeMs ?? NaN, o + 8);
    b.writeDoubleLE(req.bodyLimit, o + 16);
    b.writeDoubleLE(body.length, o + 24);
    b.writeInt32LE(body.fd, o + 32);
    b.writeUInt32LE(count, o + 36);
    const n = pre.text.length === 0 ? 0 : b.write(pre.text, o + REQ_FIXED, pre.text.length * 3, "utf8");
    b.writeUInt32LE(n, o + 40);
    let end = o + REQ_FIXED + n;
    if (body.fd < 0 && body.data !== null && body.length > 0) {
      b.set(body.data, end);
      end += body.length;
    }
    return end - o;
  });
}

export function readRequest(b: Buffer, o: number, len: number): DecodedRequest {
  const flags = b[o + 1];
  const id = b.readUInt32LE(o + 4);
  const mtime = b.readDoubleLE(o + 8);
  const bodyLimit = b.readDoubleLE(o + 16);
  const bodyLength = b.readDoubleLE(o + 24);
  const fd = b.readInt32LE(o + 32);
  const count = b.readUInt32LE(o + 36);
  const bytes = b.readUInt32LE(o + 40);
  const s = splitStrings(b, o + REQ_FIXED, o + REQ_FIXED + bytes, count, (flags & STRINGS_JSON) !== 0);
  let data: Buffer | null = null;
  if (fd < 0 && bodyLength > 0) {
    const start = o + REQ_FIXED + bytes;
    if (start + bodyLength > o + len) throw new NodewsgiError("E_FRAME", "Request frame shorter than its body");
    data = Buffer.allocUnsafe(bodyLength);
    b.copy(data, 0, start, start + bodyLength); // the ring slot is reused once we return
  }
  const req: AppRequest = {
    script: s[0],
    callable: s[1],
    applicationGroup: s[2],
    processGroup: s[3],
    method: s[4],
    logPrefix: s[5],
    environ: s.slice(6),
    urlScheme: (flags & Q_HTTPS) !== 0 ? "https" : "http",
    multithread: (flags & Q_MULTITHREAD) !== 0,
    multiprocess: (flags & Q_MULTIPROCESS) !== 0,
    runOnce: (flags & Q_RUN_ONCE) !== 0,
    bodyLimit,
    ...(Number.isNaN(mtime) ? {} : { scriptMtimeMs: mtime }),
  };
  return { id, req, body: { length: bodyLength, fd, data } };
}

export function writeSmall(out: RingProducer, type: number, id: number, value = 0): void {
  out.write(12, (b, o) => {
    b[o] = type;
    b[o + 1] = 0;
    b.writeUInt16LE(0, o + 2);
    b.writeUInt32LE(id, o + 4);
    b.writeUInt32LE(value, o + 8);
    return 12;
  });
}

/** Head of a response: status, reason, header pairs. */
export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly (readonly [string, string])[];
}

/**
 * One response frame: optionally the head, optionally a body chunk (at most
 * `out.maxPayload - 1024` bytes: split larger ones), plus END/DONE/DESTROY flags.
 */
export function writeResponse(out: RingProducer, id: number, flags: number, head: ResponseHead | null, chunk: Uint8Array | null): void {
  let text = "";
  let json = false;
  let count = 0;
  if (head !== null) {
    const list: string[] = [head.reason];
    for (const [k, v] of head.headers) list.push(k, v);
    ({ text, json } = joinStrings(list));
    count = list.length;
    flags |= R_HEAD;
  } else {
    flags &= ~R_HEAD;
  }
  const chunkLen = chunk === null ? 0 : chunk.length;
  if (chunkLen > 0) flags |= R_BODY;
  const bound = (head !== null ? RESP_HEAD_FIXED + text.length * 3 : RESP_FIXED) + chunkLen;
  out.write(bound, (b, o) => {
    b[o] = F_RESPONSE;
    b[o + 1] = flags | (json ? STRINGS_JSON : 0);
    b.writeUInt16LE(head !== null ? head.status : 0, o + 2);
    b.writeUInt32LE(id, o + 4);
    let end = o + RESP_FIXED;
    if (head !== null) {
      b.writeUInt32LE(count, o + 8);
      const n = text.length === 0 ? 0 : b.write(text, o + RESP_HEAD_FIXED, text.length * 3, "utf8");
      b.writeUInt32LE(n, o + 12);
      end = o + RESP_HEAD_FIXED + n;
    }
    if (chunkLen > 0) {
      b.set(chunk as Uint8Array, end);
      end += chunkLen;
    }
    return end - o;
  });
}

export interface DecodedResponse {
  readonly id: number;
  readonly flags: number;
  readonly head: { status: number; reason: string; headers: [string, string][] } | null;
  /** Body bytes copied out of the ring, or null. */
  readonly chunk: Buffer | null;
}

export function readResponse(b: Buffer, o: number, len: number): DecodedResponse {
  const flags = b[o + 1];
  const id = b.readUInt32LE(o + 4);
  let head: DecodedResponse["head"] = null;
  let start = o + RESP_FIXED;
  if ((flags & R_HEAD) !== 0) {
    const count = b.readUInt32LE(o + 8);
    const bytes = b.readUInt32LE(o + 12);
    const s = splitStrings(b, o + RESP_HEAD_FIXED, o + RESP_HEAD_FIXED + bytes, count, (flags & STRINGS_JSON) !== 0);
    const headers: [string, string][] = [];
    for (let i = 1; i + 1 < s.length; i += 2) headers.push([s[i], s[i + 1]]);
    head = { status: b.readUInt16LE(o + 2), reason: s[0] ?? "", headers };
    start = o + RESP_HEAD_FIXED + bytes;
  }
  const end = o + len;
  let chunk: Buffer | null = null;
  if ((flags & R_BODY) !== 0 && end > start) {
    chunk = Buffer.allocUnsafe(end - start);
    b.copy(chunk, 0, start, end);
  }
  return { id, flags, head, chunk };
}

/** Two strings in one frame: `a` length-prefixed, `b` the rest (log lines, preloads). */
export function writePair(out: RingProducer, type: number, byte1: number, id: number, a: string, bText: string): void {
  out.write(12 + (a.length + bText.length) * 3, (b, o) => {
    b[o] = type;
    b[o + 1] = byte1;
    b.writeUInt16LE(0, o + 2);
    b.writeUInt32LE(id, o + 4);
    const n = a.length === 0 ? 0 : b.write(a, o + 12, a.length * 3, "utf8");
    b.writeUInt32LE(n, o + 8);
    const m = bText.length === 0 ? 0 : b.write(bText, o + 12 + n, bText.length * 3, "utf8");
    return 12 + n + m;
  });
}

export function readPair(b: Buffer, o: number, len: number): { byte1: number; id: number; a: string; b: string } {
  const n = b.readUInt32LE(o + 8);
  return {
    byte1: b[o + 1],
    id: b.readUInt32LE(o + 4),
    a: b.toString("utf8", o + 12, o + 12 + n),
    b: b.toString("utf8", o + 12 + n, o + len),
  };
}

/** What a group's worker receives as workerData. */
export interface WorkerData {
  readonly group: string;
  readonly threads: number;
  readonly requests: SharedArrayBuffer;
  readonly responses: SharedArrayBuffer;
  /** Unacknowledged response bytes per request before write() reports backpressure. */
  readonly window: number;
  /** RingConsumer spin before sleeping, in the worker. */
  readonly spinMicros: number;
}

/** F_LOG carries the level as its index here. */
export const LOG_LEVELS = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"] as const;
