/**
 * The wire format between the front-end process and a daemon child, over a Unix socket.
 *
 * Every frame is `[u8 type][u32 LE payload length][payload]`. One connection carries one
 * request at a time (connections are pooled and reused), so frames need no request id:
 *
 *   supervisor -> child:  HEAD (packed AppRequest), BODY*, BODY_END
 *   child -> supervisor:  RESP_HEAD (status, reason, headers), RESP_BODY*, RESP_END
 *
 * Binary and length-prefixed so the hot path does no JSON and body bytes are never re-encoded;
 * backpressure is the socket's own (a paused reader stops the writer's `write()` returning true).
 */
import type { AppRequest } from "./types";
import type { HeaderPair } from "../http/types";

export const FRAME_HEADER = 5;

export const enum Frame {
  Head = 1,
  Body = 2,
  BodyEnd = 3,
  RespHead = 10,
  RespBody = 11,
  RespEnd = 12,
}

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

/** Builds one frame's bytes in a growing buffer (strings as u32 length + UTF-8). */
class Writer {
  buf: Buffer;
  pos = FRAME_HEADER;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }
  str(s: string): void {
    // Worst case 3 bytes per UTF-16 unit; write then patch the length.
    this.room(4 + s.length * 3);
    const n = this.buf.write(s, this.pos + 4, "utf8");
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }
  finish(type: Frame): Buffer {
    this.buf[0] = type;
    this.buf.writeUInt32LE(this.pos - FRAME_HEADER, 1);
    return this.buf.subarray(0, this.pos);
  }
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    return this.buf[this.pos++]!;
  }
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
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

export function encodeHead(w: WireRequest): Buffer {
  const r = w.req;
  const out = new Writer(1024 + r.environ.length * 48);
  let flags = 0;
  if (r.urlScheme === "https") flags |= FLAG_HTTPS;
  if (r.multithread) flags |= FLAG_MULTITHREAD;
  if (r.multiprocess) flags |= FLAG_MULTIPROCESS;
  if (r.runOnce) flags |= FLAG_RUN_ONCE;
  if (w.chunked) flags |= FLAG_CHUNKED;
  if (r.scriptMtimeMs !== undefined) flags |= FLAG_HAS_MTIME;
  out.u8(flags);
  out.f64(r.bodyLimit);
  out.f64(w.declaredLength);
  out.f64(r.scriptMtimeMs ?? 0);
  out.str(r.script);
  out.str(r.callable);
  out.str(r.applicationGroup);
  out.str(r.processGroup);
  out.str(r.method);
  out.str(r.logPrefix);
  out.u32(r.environ.length);
  for (const s of r.environ) out.str(s);
  return out.finish(Frame.Head);
}

export function decodeHead(payload: Buffer): WireRequest {
  const rd = new Reader(payload);
  const flags = rd.u8();
  const bodyLimit = rd.f64();
  const declaredLength = rd.f64();
  const mtime = rd.f64();
  const script = rd.str();
  const callable = rd.str();
  const applicationGroup = rd.str();
  const processGroup = rd.str();
  const method = rd.str();
  const logPrefix = rd.str();
  const n = rd.u32();
  const environ: string[] = new Array(n);
  for (let i = 0; i < n; i++) environ[i] = rd.str();
  const req: AppRequest = {
    script,
    callable,
    applicationGroup,
    processGroup,
    method,
    environ,
    urlScheme: flags & FLAG_HTTPS ? "https" : "http",
    multithread: (flags & FLAG_MULTITHREAD) !== 0,
    multiprocess: (flags & FLAG_MULTIPROCESS) !== 0,
    runOnce: (flags & FLAG_RUN_ONCE) !== 0,
    bodyLimit,
    logPrefix,
    ...(flags & FLAG_HAS_MTIME ? { scriptMtimeMs: mtime } : {}),
  };
  return { req, declaredLength, chunked: (flags & FLAG_CHUNKED) !== 0 };
}

export interface WireResponseHead {
  status: number;
  reason: string;
  headers: HeaderPair[];
}

export function encodeResponseHead(status: number, reason: string, headers: readonly HeaderPair[]): Buffer {
  const out = new Writer(256 + headers.length * 64);
  out.u32(status);
  out.str(reason);
  out.u32(headers.length);
  for (const [k, v] of headers) {
    out.str(k);
    out.str(v);
  }
  return out.finish(Frame.RespHead);
}

export function decodeResponseHead(payload: Buffer): WireResponseHead {
  const rd = new Reader(payload);
  const status = rd.u32();
  const reason = rd.str();
  const n = rd.u32();
  const headers: HeaderPair[] = [];
  for (let i = 0; i < n; i++) headers.push([rd.str(), rd.str()]);
  return { status, reason, headers };
}

/** Small bodies go out as one buffer (one syscall); large ones as header + the caller's bytes. */
const COALESCE_LIMIT = 16 * 1024;

/** The bytes of a data frame: one Buffer, or [header, chunk] to write with cork/writev. */
export function dataFrame(type: Frame, chunk: Uint8Array): Buffer[] {
  if (chunk.length <= COALESCE_LIMIT) {
    const b = Buffer.allocUnsafe(FRAME_HEADER + chunk.length);
    b[0] = type;
    b.writeUInt32LE(chunk.length, 1);
    b.set(chunk, FRAME_HEADER);
    return [b];
  }
  const h = Buffer.allocUnsafe(FRAME_HEADER);
  h[0] = type;
  h.writeUInt32LE(chunk.length, 1);
  // The caller's chunk is only valid during the call (RequestBody's contract): copy it.
  return [h, Buffer.from(chunk)];
}

export function emptyFrame(type: Frame): Buffer {
  const b = Buffer.alloc(FRAME_HEADER);
  b[0] = type;
  return b;
}

/** Largest frame accepted: a guard against a corrupt stream allocating without bound. */
export const MAX_FRAME = 64 * 1024 * 1024;

/**
 * Splits a byte stream into frames. Payloads are subarrays of the received buffers when a
 * frame arrives whole (the common case), copied only when a frame spans reads.
 */
export class FrameReader {
  /** Bytes of an incomplete frame, kept as a list so a large frame is joined once, not per read. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Bytes needed before the pending frame is complete (0 = header not yet known). */
  private need = 0;

  constructor(private readonly onFrame: (type: number, payload: Buffer) => void) {}

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
      const len = buf.readUInt32LE(pos + 1);
      if (len > MAX_FRAME) throw new Error(`daemon frame too large (${len} bytes)`);
      if (buf.length - pos - FRAME_HEADER < len) {
        this.need = FRAME_HEADER + len;
        break;
      }
      const type = buf[pos]!;
      const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len);
      pos += FRAME_HEADER + len;
      this.onFrame(type, payload);
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.parts.push(rest);
      this.partsLen = rest.length;
    }
  }
}
