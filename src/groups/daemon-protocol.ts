/**
 * The wire format between the front-end process and a daemon child, over one persistent Unix
 * socket per child that multiplexes every request sent to it.
 *
 * Every frame is `[u8 type][u32 LE request id][u32 LE payload length][payload]`:
 *
 *   supervisor -> child:  HEAD (packed AppRequest), BODY*, BODY_END, ABORT, RESP_CREDIT
 *   child -> supervisor:  RESP_HEAD (status, reason, headers), RESP_BODY*, RESP_END,
 *                         RESP_ABORT, BODY_CREDIT
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
  RespHead = 10,
  RespBody = 11,
  RespEnd = 12,
  /** The application failed mid-response: 502 before headers, a dropped client after. */
  RespAbort = 13,
  /** Request body bytes the application has consumed: the front end may send that many more. */
  BodyCredit = 14,
}

/** Bytes of one request's data either way that may be in flight without a credit. */
export const WINDOW = 256 * 1024;

/** An AppRequest plus what the child needs to know about its body. */
export interface WireRequest {
  req: AppRequest;
  declaredLength: number;
  chunked: boolean;
}

const FLAG_HTTPS = 1;
const FLAG_MULTITHREAD = 2;
const FLAG_MULTIPROCESS = 4;
const FLAG_RUN_ONCE = 8;
const FLAG_CHUNKED = 16;
const FLAG_HAS_MTIME = 32;

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
export interface HeadExtras {
  processGroup: string;
  multiprocess: boolean;
  multithread: boolean;
  runOnce: boolean;
  /** Environ keys to leave out (the daemon keys the request may already carry; all mod_wsgi.*). */
  drop: ReadonlySet<string>;
  /** Environ pairs to add at the end. */
  extra: readonly string[];
}

const NO_STRINGS: readonly string[] = [];
/** Environ key tokens in HEAD: an index below KEY_DEFINE refers to an earlier definition. */
const KEY_DEFINE = 0x80000000;
const KEY_LITERAL = 0xffffffff;
/** Dictionary entries per connection. */
export const MAX_KEYS = 4096;

/** The internalized copy of a string (property names are), so equal keys are one string. */
function intern(s: string): string {
  const o: Record<string, number> = {};
  o[s] = 0;
  return Object.keys(o)[0]!;
}

function u32(b: Buffer, p: number, v: number): number {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
  return p + 4;
}

/** What an Outbox writes to (a net.Socket; a fake in tests). */
export interface ByteSink {
  readonly destroyed: boolean;
  write(b: Buffer): boolean;
  cork(): void;
  uncork(): void;
}

/** Size of the buffers frames are built in; bigger frames get a buffer of their own size. */
const OUT_CHUNK = 64 * 1024;

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
  /** A data frame; the chunk is copied (RequestBody chunks are only valid during the call). */
  data(type: Frame, id: number, chunk: Uint8Array): void {
    const n = chunk.length;
    this.room(FRAME_HEADER + n);
    this.header(type, id, n);
    this.buf.set(chunk, this.pos);
    this.pos += n;
    this.schedule();
  }

  /**
   * Environ keys already sent on this connection, by dictionary index (see `head`). Null
   * (the default) sends every key as a string.
   */
  keyIds: Map<string, number> | null = null;

  /**
   * HEAD: the fixed fields, then a u32 token per string (its length in UTF-16 units, or for an
   * environ key a dictionary reference) and all the strings as one UTF-8 run. One string write
   * per request instead of one per environ entry (each is a call into C++); UTF-16 lengths
   * survive the UTF-8 round trip, lone surrogates included (one unit becomes U+FFFD, one unit).
   *
   * Environ keys repeat on every request, so each connection keeps a dictionary: a key's first
   * use defines an index (KEY_DEFINE | index, then the key as a string), later uses send only
   * the index. The child interns the key once, so it is the very string the gateway's literals
   * are and every later comparison is a pointer compare. The dictionary is bounded (MAX_KEYS)
   * because header names come from clients; beyond it keys go as strings (KEY_LITERAL).
   *
   * `x` rewrites the request for a daemon group on the way (its environ keys and flags)
   * without building a second AppRequest.
   */
  head(id: number, w: WireRequest, x?: HeadExtras): void {
    const r = w.req;
    const env = r.environ;
    const drop = x?.drop;
    const extra = x?.extra ?? NO_STRINGS;
    const pg = x ? x.processGroup : r.processGroup;
    const ids = this.keyIds;
    let bound = r.script.length + r.callable.length + r.applicationGroup.length + pg.length + r.method.length + r.logPrefix.length;
    for (let i = 0; i < env.length; i++) bound += env[i]!.length;
    for (let i = 0; i < extra.length; i++) bound += extra[i]!.length;
    const maxTokens = 6 + ((env.length + extra.length) >> 1) * 3;
    this.room(FRAME_HEADER + 1 + 24 + 4 + maxTokens * 4 + 4 + bound * 3);
    const at = this.pos;
    let flags = 0;
    if (r.urlScheme === "https") flags |= FLAG_HTTPS;
    if (x ? x.multithread : r.multithread) flags |= FLAG_MULTITHREAD;
    if (x ? x.multiprocess : r.multiprocess) flags |= FLAG_MULTIPROCESS;
    if (x ? x.runOnce : r.runOnce) flags |= FLAG_RUN_ONCE;
    if (w.chunked) flags |= FLAG_CHUNKED;
    if (r.scriptMtimeMs !== undefined) flags |= FLAG_HAS_MTIME;
    const b = this.buf;
    let p = at + FRAME_HEADER;
    b[p++] = flags;
    b.writeDoubleLE(r.bodyLimit, p);
    b.writeDoubleLE(w.declaredLength, p + 8);
    b.writeDoubleLE(r.scriptMtimeMs ?? 0, p + 16);
    p += 24;
    const countAt = p;
    p += 4;
    p = u32(b, p, r.script.length);
    p = u32(b, p, r.callable.length);
    p = u32(b, p, r.applicationGroup.length);
    p = u32(b, p, pg.length);
    p = u32(b, p, r.method.length);
    p = u32(b, p, r.logPrefix.length);
    let blob = r.script + r.callable + r.applicationGroup + pg + r.method + r.logPrefix;
    let pairs = 0;
    for (let pass = 0; pass < 2; pass++) {
      const list = pass === 0 ? env : extra;
      for (let i = 0; i + 1 < list.length; i += 2) {
        const k = list[i]!;
        // Every key to drop starts with 'm' (mod_wsgi.*): most keys skip the hash lookup.
        if (pass === 0 && drop !== undefined && k.charCodeAt(0) === 109 && drop.has(k)) continue;
        const v = list[i + 1]!;
        pairs++;
        const known = ids === null ? undefined : ids.get(k);
        if (known !== undefined) {
          p = u32(b, p, known);
        } else {
          if (ids !== null && ids.size < MAX_KEYS) {
            const n = ids.size;
            ids.set(k, n);
            p = u32(b, p, (KEY_DEFINE | n) >>> 0);
          } else {
            p = u32(b, p, KEY_LITERAL);
          }
          p = u32(b, p, k.length);
          blob += k;
        }
        p = u32(b, p, v.length);
        blob += v;
      }
    }
    u32(b, countAt, pairs);
    const n = blob.length === 0 ? 0 : b.write(blob, p + 4, "utf8");
    u32(b, p, n);
    this.pos = p + 4 + n;
    this.patch(Frame.Head, id, at);
  }

  responseHead(id: number, status: number, reason: string, headers: readonly HeaderPair[]): void {
    let max = FRAME_HEADER + 12 + reason.length * 3;
    for (const [k, v] of headers) max += 8 + (k.length + v.length) * 3;
    this.room(max);
    const at = this.pos;
    this.pos += FRAME_HEADER;
    this.buf.writeUInt32LE(status, this.pos);
    this.pos += 4;
    this.str(reason);
    this.buf.writeUInt32LE(headers.length, this.pos);
    this.pos += 4;
    for (const [k, v] of headers) {
      this.str(k);
      this.str(v);
    }
    this.patch(Frame.RespHead, id, at);
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
    this.scheduled = false;
    this.beforeFlush?.();
    this.seal();
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    // Start the next frames in a fresh region: what was handed over must stay untouched.
    if (this.buf.length - this.pos < 1024) {
      this.buf = Buffer.allocUnsafe(OUT_CHUNK);
      this.start = this.pos = 0;
    }
    const s = this.socket;
    if (s.destroyed) return;
    if (parts.length === 1) {
      s.write(parts[0]!);
      return;
    }
    s.cork();
    for (const p of parts) s.write(p);
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
 * The child's side of HEAD; `environ` is a fresh array the caller may extend. `keys` is the
 * connection's key dictionary (filled as definitions arrive).
 */
export function decodeHead(payload: Buffer, keys: string[] = []): WireRequest & { req: AppRequest & { environ: string[] } } {
  const flags = payload[0]!;
  const bodyLimit = payload.readDoubleLE(1);
  const declaredLength = payload.readDoubleLE(9);
  const mtime = payload.readDoubleLE(17);
  const pairs = payload.readUInt32LE(25);
  // Find the UTF-8 run: walk the tokens once (a definition or literal key has a length after it).
  let lp = 29 + 6 * 4;
  for (let i = 0; i < pairs; i++) {
    const t = payload.readUInt32LE(lp);
    lp += t >= KEY_DEFINE ? 12 : 8;
  }
  const blobLen = payload.readUInt32LE(lp);
  const blob = blobLen === 0 ? "" : payload.toString("utf8", lp + 4, lp + 4 + blobLen);
  lp = 29;
  let sp = 0;
  const next = (): string => {
    const n = payload.readUInt32LE(lp);
    lp += 4;
    const v = n === 0 ? "" : blob.slice(sp, sp + n);
    sp += n;
    return v;
  };
  const script = next();
  const callable = next();
  const applicationGroup = next();
  const processGroup = next();
  const method = next();
  const logPrefix = next();
  const environ: string[] = new Array(pairs * 2);
  for (let i = 0; i < pairs; i++) {
    const t = payload.readUInt32LE(lp);
    let k: string;
    if (t < KEY_DEFINE) {
      lp += 4;
      k = keys[t]!;
      if (k === undefined) throw new Error(`daemon HEAD refers to undefined key ${t}`);
    } else if (t === KEY_LITERAL) {
      lp += 4;
      k = next();
    } else {
      lp += 4;
      k = intern(next());
      keys[t - KEY_DEFINE] = k;
    }
    environ[2 * i] = k;
    environ[2 * i + 1] = next();
  }
  const req = {
    script,
    callable,
    applicationGroup,
    processGroup,
    method,
    environ,
    urlScheme: flags & FLAG_HTTPS ? ("https" as const) : ("http" as const),
    multithread: (flags & FLAG_MULTITHREAD) !== 0,
    multiprocess: (flags & FLAG_MULTIPROCESS) !== 0,
    runOnce: (flags & FLAG_RUN_ONCE) !== 0,
    bodyLimit,
    logPrefix,
    // Always present (undefined when unknown): one object shape for every request.
    scriptMtimeMs: flags & FLAG_HAS_MTIME ? mtime : undefined,
  };
  return { req, declaredLength, chunked: (flags & FLAG_CHUNKED) !== 0 };
}

export interface WireResponseHead {
  status: number;
  reason: string;
  headers: HeaderPair[];
}

export function decodeResponseHead(payload: Buffer): WireResponseHead {
  const rd = new Reader(payload);
  const status = rd.u32();
  const reason = rd.str();
  const n = rd.u32();
  const headers: HeaderPair[] = new Array(n);
  for (let i = 0; i < n; i++) headers[i] = [rd.str(), rd.str()];
  return { status, reason, headers };
}

/** Largest frame accepted: a guard against a corrupt stream allocating without bound. */
export const MAX_FRAME = 64 * 1024 * 1024;

/**
 * Splits a connection's byte stream into frames (one reader per connection, not per request).
 * Payloads are subarrays of the received buffers when a frame arrives whole (the common case),
 * copied only when a frame spans reads.
 */
export class FrameReader {
  /** Bytes of an incomplete frame, kept as a list so a large frame is joined once, not per read. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Bytes needed before the pending frame is complete (0 = header not yet known). */
  private need = 0;

  constructor(private readonly onFrame: (type: number, id: number, payload: Buffer) => void) {}

  push(data: Buffer): void {
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
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.parts.push(rest);
      this.partsLen = rest.length;
    }
  }
}
