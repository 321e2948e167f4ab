/**
 * The wire format between the front-end process and a daemon child, over one persistent Unix
 * socket per child that multiplexes every request sent to it.
 *
 * Every frame is `[u8 type][u32 LE request id][u32 LE payload length][payload]`:
 *
 *   supervisor -> child:  HEAD (packed AppRequest), BODY*, BODY_END, ABORT, RESP_CREDIT,
 *                         INTERRUPT
 *   child -> supervisor:  RESP_HEAD (status, reason, headers), RESP_BODY*, RESP_END,
 *                         RESP_ABORT, BODY_CREDIT, INTERRUPTED
 *
 * Flow control is per request, as the worker group's window: a sender may have at most WINDOW
 * bytes of one request's data (request body one way, response body the other) that the other
 * side has not yet handed on; a CREDIT frame returns bytes as they are consumed. So a slow
 * client or a slow-reading application throttles only its own request, never the shared
 * connection, which both sides always read at full speed. ABORT (client gone, timeout) and
 * RESP_ABORT (the application failed mid-response) replace closing a per-request connection.
 *
 * Frames are written into an Outbox and leave once per event-loop turn (setImmediate), so a
 * burst of requests or responses costs one write and one read on each side, not one each.
 */
import type { AppRequest } from "./types";
import {
  EnvironLayouts, LayoutTable, REQ_KEYS, REQUEST_STRINGS, decodeEnviron, decodedRequest, encodeEnviron, requestFlags, requestStrings,
  sameBytes, stringsBound, writeStrings,
  type EnvironRewrite,
} from "./environ-codec";
import type { HeaderPair } from "../http/types";

export const FRAME_HEADER = 9;

export const enum Frame {
  Head = 1,
  Body = 2,
  BodyEnd = 3,
  /** The front end no longer wants this request (client gone, timeout, response complete). */
  Abort = 4,
  /** Response bytes the front end has passed on: the child may send that many more. */
  RespCredit = 5,
  /**
   * interrupt-timeout: abort this request, which has run past request-timeout, and answer
   * INTERRUPTED once the application has unwound (its dispatch is over).
   */
  Interrupt = 6,
  RespHead = 10,
  RespBody = 11,
  RespEnd = 12,
  /** The application failed mid-response: 500 before headers, a dropped client after. */
  RespAbort = 13,
  /** Request body bytes the application has consumed: the front end may send that many more. */
  BodyCredit = 14,
  /** The interrupted request's application has unwound: its thread is free again. */
  Interrupted = 15,
}

/** Bytes of one request's data either way that may be in flight without a credit. */
export const WINDOW = 256 * 1024;

/** An AppRequest plus what the child needs to know about its body. */
export interface WireRequest {
  req: AppRequest;
  declaredLength: number;
  chunked: boolean;
}

/** HEAD flags of this protocol's own, above the request's (./environ-codec's REQ_*). */
const FLAG_CHUNKED = 32;
const FLAG_HAS_MTIME = 64;
/** HEAD payload before the environ: flags, pad, layout u16, pairs, count, text bytes, 3 f64. */
const HEAD_FIXED = 40;

/**
 * µs since the epoch as a decimal string, as mod_wsgi's `*_start` environ keys. Built from
 * seconds and the µs within the second, two small integers: String() of the 16-digit whole is a
 * slow double-to-string conversion, and both sides do this on every request.
 */
export function nowMicros(): string {
  const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
  const sec = Math.floor(us / 1e6);
  return String(sec) + String(us - sec * 1e6 + 1e6).slice(1);
}

/** How the supervisor rewrites a request for its daemon group while encoding it. */
/** The daemon group's view of a request: its flags, and its environ keys rewritten (EnvironRewrite). */
export interface HeadExtras extends EnvironRewrite {
  processGroup: string;
  multiprocess: boolean;
  multithread: boolean;
  runOnce: boolean;
}

/** What an Outbox writes to (a net.Socket; a fake in tests). */
export interface ByteSink {
  readonly destroyed: boolean;
  /** `done` runs once `b` is no longer needed (written, or the write failed); a sink may never call it. */
  write(b: Buffer, done?: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
}

/** Largest data frame payload (a window's worth; bigger chunks are split). */
export const MAX_DATA = WINDOW;

/** Size of the buffers frames are built in; bigger frames get a buffer of their own size. */
const OUT_CHUNK = 64 * 1024;

/**
 * Data frames with at least this much payload (a streamed body, a large response write) are
 * built in a reused slab instead of the bump buffer: each 256 KiB body frame in a fresh buffer
 * made 1 GB of garbage per GB uploaded, which V8 lets pile up to ~32 MiB before it collects.
 * Smaller frames stay on the bump path, which needs no write callback (the hello path).
 */
export const SLAB_MIN = 32 * 1024;
/** A slab holds one data frame of up to MAX_DATA. */
const SLAB_SIZE = FRAME_HEADER + WINDOW;
/** Idle slabs kept for reuse in this process (2 MiB); beyond that a returned slab is dropped. */
const SLAB_POOL_MAX = 8;
const slabPool: Buffer[] = [];

function takeSlab(): Buffer {
  return slabPool.pop() ?? Buffer.allocUnsafeSlow(SLAB_SIZE);
}
function returnSlabs(slabs: Buffer[]): void {
  for (const b of slabs) if (slabPool.length < SLAB_POOL_MAX) slabPool.push(b);
}
/** Idle slabs in the pool (tests). */
export function pooledSlabs(): number {
  return slabPool.length;
}

/**
 * Frames waiting to leave on one connection. They are encoded straight into a shared buffer
 * (bump allocation: the bytes handed to write() are never overwritten, the next frame goes
 * after them) and flushed once per event-loop turn with a single write or writev.
 */
export class Outbox {
  private buf = Buffer.allocUnsafe(OUT_CHUNK);
  /** Start of the bytes not yet handed to `parts`. */
  private start = 0;
  private pos = 0;
  private parts: Buffer[] = [];
  /** Slabs among `parts` (null when none): back to the pool once the socket has written them. */
  private slabs: Buffer[] | null = null;
  private scheduled = false;
  /** Runs at the start of each flush (credits are gathered per turn, then written). */
  beforeFlush: (() => void) | null = null;

  constructor(private readonly socket: ByteSink, private readonly immediate = true) {}

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.seal();
    this.buf = Buffer.allocUnsafe(Math.max(OUT_CHUNK, n));
    this.start = this.pos = 0;
  }
  private seal(): void {
    if (this.pos > this.start) {
      this.parts.push(this.buf.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }
  private header(type: Frame, id: number, len: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = type;
    b.writeUInt32LE(id, p + 1);
    b.writeUInt32LE(len, p + 5);
    this.pos = p + FRAME_HEADER;
  }
  schedule(): void {
    if (this.scheduled || !this.immediate) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** A frame without payload (BODY_END, RESP_END, ABORT, RESP_ABORT). */
  empty(type: Frame, id: number): void {
    this.room(FRAME_HEADER);
    this.header(type, id, 0);
    this.schedule();
  }
  credit(type: Frame, id: number, n: number): void {
    this.room(FRAME_HEADER + 4);
    this.header(type, id, 4);
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4;
    this.schedule();
  }
  /**
   * A data frame; the chunk is copied (RequestBody chunks are only valid during the call). A
   * chunk beyond MAX_DATA goes as several frames: one application write of any size must not
   * make a frame the reader refuses (MAX_FRAME), which would cost every request on the link.
   */
  data(type: Frame, id: number, chunk: Uint8Array): void {
    const n = chunk.length;
    if (n > MAX_DATA) {
      for (let at = 0; at < n; at += MAX_DATA) this.data(type, id, chunk.subarray(at, Math.min(n, at + MAX_DATA)));
      return;
    }
    if (n >= SLAB_MIN) {
      // After the frames already in the bump buffer, before any that follow: order is kept.
      this.seal();
      const slab = takeSlab();
      slab[0] = type;
      slab.writeUInt32LE(id, 1);
      slab.writeUInt32LE(n, 5);
      slab.set(chunk, FRAME_HEADER);
      this.parts.push(slab.subarray(0, FRAME_HEADER + n));
      (this.slabs ??= []).push(slab);
      this.schedule();
      return;
    }
    this.room(FRAME_HEADER + n);
    this.header(type, id, n);
    this.buf.set(chunk, this.pos);
    this.pos += n;
    this.schedule();
  }

  /**
   * The environ layouts numbered on this connection (./environ-codec). Null (the default) sends
   * every key and value with every request.
   */
  layouts: EnvironLayouts | null = null;

  /**
   * HEAD: the fixed fields, the environ layout, then the strings in ./environ-codec's form (the
   * six request strings, the keys when the layout is new, the values that changed). One string
   * write per request, and the keys and unchanged values of a known layout do not travel.
   *
   * `x` rewrites the request for a daemon group on the way (its environ keys and flags)
   * without building a second AppRequest. Returns false, writing nothing, when the frame would
   * exceed MAX_FRAME (the caller answers that request alone with 500).
   */
  head(id: number, w: WireRequest, x?: HeadExtras): boolean {
    const r = w.req;
    const pg = x ? x.processGroup : r.processGroup;
    const strings = requestStrings(r, pg);
    const enc = encodeEnviron(r.environ, this.layouts, strings, x ?? null);
    const text = strings.join("");
    const bound = HEAD_FIXED + sameBytes(enc) + stringsBound(strings.length, text);
    // A frame the child would refuse would cost the connection and every request on it: refuse
    // this request alone (measured exactly only when the cheap bound says it might not fit).
    if (bound > MAX_FRAME && HEAD_FIXED + sameBytes(enc) + 4 * strings.length + Buffer.byteLength(text) > MAX_FRAME) {
      this.layouts?.forget(enc.layout); // it recorded values the child will not see
      return false;
    }
    this.room(FRAME_HEADER + bound);
    let flags = requestFlags(r, x ?? r, enc.keys);
    if (w.chunked) flags |= FLAG_CHUNKED;
    if (r.scriptMtimeMs !== undefined) flags |= FLAG_HAS_MTIME;
    const at = this.pos;
    const b = this.buf;
    const p = at + FRAME_HEADER;
    b[p] = flags;
    b[p + 1] = 0;
    b.writeUInt16LE(enc.layout, p + 2);
    b.writeUInt32LE(enc.pairs, p + 4);
    b.writeUInt32LE(strings.length, p + 8);
    b.writeDoubleLE(r.bodyLimit, p + 16);
    b.writeDoubleLE(w.declaredLength, p + 24);
    b.writeDoubleLE(r.scriptMtimeMs ?? 0, p + 32);
    let q = p + HEAD_FIXED;
    if (enc.same !== null) {
      b.set(enc.same, q);
      q += sameBytes(enc);
    }
    const n = writeStrings(b, q, strings, text);
    b.writeUInt32LE(n, p + 12);
    this.pos = q + 4 * strings.length + n;
    this.patch(Frame.Head, id, at);
    return true;
  }

  /**
   * RESP_HEAD; false (nothing written) when it would exceed MAX_FRAME, which the reader refuses
   * by dropping the connection and every request on it. `serverPage`: the head is the server's
   * own error page (written through ResponseSink.writeErrorHead), which the front end may replace.
   */
  responseHead(id: number, status: number, reason: string, headers: readonly HeaderPair[], serverPage = false): boolean {
    let max = FRAME_HEADER + 12 + reason.length * 3;
    for (const [k, v] of headers) max += 8 + (k.length + v.length) * 3;
    if (max - FRAME_HEADER > MAX_FRAME) {
      let exact = 8 + Buffer.byteLength(reason);
      for (const [k, v] of headers) exact += 8 + Buffer.byteLength(k) + Buffer.byteLength(v);
      if (exact > MAX_FRAME) return false;
    }
    this.room(max);
    const at = this.pos;
    this.pos += FRAME_HEADER;
    this.buf.writeUInt32LE(serverPage ? (status | SERVER_PAGE) >>> 0 : status, this.pos);
    this.pos += 4;
    this.str(reason);
    this.buf.writeUInt32LE(headers.length, this.pos);
    this.pos += 4;
    for (const [k, v] of headers) {
      this.str(k);
      this.str(v);
    }
    this.patch(Frame.RespHead, id, at);
    return true;
  }

  private str(s: string): void {
    const n = s.length === 0 ? 0 : this.buf.write(s, this.pos + 4, "utf8");
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }
  private patch(type: Frame, id: number, at: number): void {
    const b = this.buf;
    b[at] = type;
    b.writeUInt32LE(id, at + 1);
    b.writeUInt32LE(this.pos - at - FRAME_HEADER, at + 5);
    this.schedule();
  }

  /** Hand everything queued to the socket: one write, or one writev when it spans buffers. */
  readonly flush = (): void => {
    // Frames beforeFlush adds (credits) leave with this flush: no second turn scheduled for them.
    this.beforeFlush?.();
    this.scheduled = false;
    this.seal();
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    // Start the next frames in a fresh region: what was handed over must stay untouched.
    if (this.buf.length - this.pos < 1024) {
      this.buf = Buffer.allocUnsafe(OUT_CHUNK);
      this.start = this.pos = 0;
    }
    const slabs = this.slabs;
    this.slabs = null;
    const s = this.socket;
    if (s.destroyed) {
      if (slabs !== null) returnSlabs(slabs);
      return;
    }
    // Writes complete in order: the last one's callback frees every slab of this flush. A
    // socket that never calls back (destroyed mid-write) leaves them to the garbage collector.
    const done = slabs === null ? undefined : () => returnSlabs(slabs);
    if (parts.length === 1) {
      s.write(parts[0]!, done);
      return;
    }
    s.cork();
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) s.write(parts[i]!);
    s.write(parts[last]!, done);
    s.uncork();
  };
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.u32();
    if (n === 0) return "";
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/**
 * The child's side of HEAD; `environ` is a fresh array the caller may extend. `layouts` is the
 * connection's table (filled as layouts are defined).
 */
export function decodeHead(payload: Buffer, layouts: LayoutTable = new LayoutTable()): WireRequest & { req: AppRequest & { environ: string[] } } {
  if (payload.length < HEAD_FIXED) throw new Error("daemon HEAD frame too short");
  const flags = payload[0]!;
  const layout = payload.readUInt16LE(2);
  const pairs = payload.readUInt32LE(4);
  const count = payload.readUInt32LE(8);
  const bytes = payload.readUInt32LE(12);
  const bodyLimit = payload.readDoubleLE(16);
  const declaredLength = payload.readDoubleLE(24);
  const mtime = payload.readDoubleLE(32);
  const { environ, strings: s } = decodeEnviron(payload, HEAD_FIXED, layout, (flags & REQ_KEYS) !== 0, pairs, REQUEST_STRINGS, count, bytes, layouts);
  const req = decodedRequest(s, environ, flags, bodyLimit, flags & FLAG_HAS_MTIME ? mtime : undefined);
  return { req, declaredLength, chunked: (flags & FLAG_CHUNKED) !== 0 };
}

export interface WireResponseHead {
  status: number;
  reason: string;
  headers: HeaderPair[];
  serverPage: boolean;
}

/** In RESP_HEAD's status word: the server's own error page, not the application's response. */
const SERVER_PAGE = 0x8000_0000;

export function decodeResponseHead(payload: Buffer): WireResponseHead {
  const rd = new Reader(payload);
  const word = rd.u32();
  const status = word & 0xffff;
  const reason = rd.str();
  const n = rd.u32();
  const headers: HeaderPair[] = new Array(n);
  for (let i = 0; i < n; i++) headers[i] = [rd.str(), rd.str()];
  return { status, reason, headers, serverPage: (word & SERVER_PAGE) !== 0 };
}

/** Largest frame accepted: a guard against a corrupt stream allocating without bound. */
export const MAX_FRAME = 64 * 1024 * 1024;

/**
 * Splits a connection's byte stream into frames (one reader per connection, not per request).
 *
 * Owned payloads (the default) are subarrays of the received buffers when a frame arrives whole
 * (the common case), copied only when a frame spans reads: the receiver may keep them.
 *
 * Borrowed payloads (`borrowed`) are valid only during the onFrame call, like a RequestBody's
 * chunks: a frame that spans reads is assembled in one buffer the reader reuses, so a streamed
 * body's 256 KiB frames, which always span 64 KiB socket reads, cost no allocation each. The
 * pushed data itself need only be valid during push() (a reused read buffer may be pushed).
 */
export class FrameReader {
  /** Bytes of an incomplete frame, kept as a list so a large frame is joined once, not per read. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Bytes needed before the pending frame is complete (0 = header not yet known). */
  private need = 0;
  /** Borrowed mode: the incomplete frame's bytes so far, at the start of `asm`. */
  private asm: Buffer = EMPTY;
  private asmLen = 0;

  constructor(
    private readonly onFrame: (type: number, id: number, payload: Buffer) => void,
    private readonly borrowed = false,
  ) {}

  push(data: Buffer): void {
    if (this.borrowed) {
      this.pushBorrowed(data);
      return;
    }
    let buf = data;
    if (this.partsLen > 0) {
      this.parts.push(data);
      this.partsLen += data.length;
      if (this.partsLen < Math.max(this.need, FRAME_HEADER)) return;
      buf = Buffer.concat(this.parts, this.partsLen);
      this.parts = [];
      this.partsLen = 0;
      this.need = 0;
    }
    const pos = this.frames(buf);
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.parts.push(rest);
      this.partsLen = rest.length;
    }
  }

  /** Emits every whole frame of `buf`; returns where the incomplete rest starts. */
  private frames(buf: Buffer): number {
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER) {
      const len = buf.readUInt32LE(pos + 5);
      if (len > MAX_FRAME) throw new Error(`daemon frame too large (${len} bytes)`);
      if (buf.length - pos - FRAME_HEADER < len) {
        this.need = FRAME_HEADER + len;
        break;
      }
      const type = buf[pos]!;
      const id = buf.readUInt32LE(pos + 1);
      const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len);
      pos += FRAME_HEADER + len;
      this.onFrame(type, id, payload);
    }
    return pos;
  }

  private pushBorrowed(data: Buffer): void {
    let pos = 0;
    if (this.asmLen > 0) {
      // Complete the pending frame's header, then its payload, from the front of `data`.
      if (this.asmLen < FRAME_HEADER) {
        const n = Math.min(FRAME_HEADER - this.asmLen, data.length);
        this.asmCopy(data, 0, n);
        pos = n;
        if (this.asmLen < FRAME_HEADER) return;
        const len = this.asm.readUInt32LE(5);
        if (len > MAX_FRAME) throw new Error(`daemon frame too large (${len} bytes)`);
        this.need = FRAME_HEADER + len;
        this.reserve(this.need);
      }
      const n = Math.min(this.need - this.asmLen, data.length - pos);
      this.asmCopy(data, pos, n);
      pos += n;
      if (this.asmLen < this.need) return;
      const a = this.asm;
      const end = this.need;
      this.asmLen = 0;
      this.need = 0;
      // A buffer grown for an unusually large frame (a big HEAD) is not kept.
      if (a.length > ASM_KEEP) this.asm = EMPTY;
      this.onFrame(a[0]!, a.readUInt32LE(1), a.subarray(FRAME_HEADER, end));
    }
    const rest = pos + this.frames(pos === 0 ? data : data.subarray(pos));
    if (rest < data.length) {
      this.reserve(Math.max(this.need, data.length - rest));
      this.asmCopy(data, rest, data.length - rest);
    }
  }

  private reserve(n: number): void {
    if (this.asm.length >= n) return;
    const b = Buffer.allocUnsafeSlow(Math.max(n, ASM_MIN));
    if (this.asmLen > 0) this.asm.copy(b, 0, 0, this.asmLen);
    this.asm = b;
  }
  private asmCopy(src: Buffer, from: number, n: number): void {
    this.reserve(this.asmLen + n);
    src.copy(this.asm, this.asmLen, from, from + n);
    this.asmLen += n;
  }
}

const EMPTY = Buffer.alloc(0);
/** The borrowed reader's assembly buffer: one body frame, and kept up to 1 MiB. */
const ASM_MIN = FRAME_HEADER + WINDOW;
const ASM_KEEP = 1024 * 1024;
