/**
 * The frames an application group's two rings (./request-queue) carry between the front-end
 * thread and the group's worker. All integers little-endian.
 *
 * Strings travel as a list: the UTF-16 length of each (u32) and then all of them as one UTF-8
 * text. Encoding is one `join("")` and one native write; decoding is one native read and a
 * `slice` per string. No separator is needed, so any string (a NUL included) goes through.
 *
 * Environ keys barely vary from request to request (the route and the set of header names fix
 * them), so the key sequence travels once: the front end numbers each sequence it sends
 * (EnvironLayouts, a small table replaced least-recently-used first), a request carries its
 * layout's number and only the values, and the first request of a new number carries the keys
 * as well. Most values repeat too (server name, script, document root, mod_wsgi.* settings):
 * a request of a known layout carries a bitmap of the values equal to the previous request's
 * and only the others. The worker keeps the keys and last values per number (LayoutTable): the
 * same string objects each time, which is also what lets its environ builder (app/environ.ts)
 * recognise the sequence by identity. The ring is FIFO, so frames are decoded in the order the
 * front end encoded them and both tables stay in step.
 */
import { NodewsgiError } from "../errors";
import type { AppRequest } from "./types";
import type { RingProducer } from "./request-queue";
import { USER0 } from "./request-queue";

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

const Q_MULTITHREAD = 1;
const Q_MULTIPROCESS = 2;
const Q_RUN_ONCE = 4;
const Q_HTTPS = 8;
/** The frame carries its layout's keys (a new or replaced layout number, or none). */
const Q_KEYS = 16;

/** Layout number meaning "not numbered": the keys travel with this request only. */
const NO_LAYOUT = 0xffff;
/** Layouts numbered per ring; a new one beyond this replaces the least recently used. */
export const MAX_LAYOUTS = 64;

/** The AppRequest strings before the environ values, in this order. */
const REQ_STRINGS = 6;
const REQ_FIXED = 48;
const RESP_FIXED = 8;
const RESP_HEAD_FIXED = 16;

/** Control word in the request ring: how many requests the worker has started (FIFO). */
export const STARTED_WORD = USER0;

/** Bytes needed to write `list` (its lengths and, at worst, 3 UTF-8 bytes per UTF-16 unit). */
function stringsBound(count: number, text: string): number {
  return count * 4 + text.length * 3;
}

/**
 * A 32-bit view of `b` for the length arrays (frames start 8-byte aligned, so the lengths are
 * 4-byte aligned): one typed-array store per string instead of a Buffer method call. The last
 * view is kept: a side decodes from one ring buffer again and again.
 */
let viewed: Buffer | null = null;
let view: Uint32Array = new Uint32Array(0);
function u32(b: Buffer): Uint32Array | null {
  if ((b.byteOffset & 3) !== 0) return null;
  if (b !== viewed) {
    view = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
    viewed = b;
  }
  return view;
}

/** Writes the lengths of `list` at `o`, then `text` (their concatenation); returns the UTF-8 byte count. */
function writeStrings(b: Buffer, o: number, list: readonly string[], text: string): number {
  const v = (o & 3) === 0 ? u32(b) : null;
  if (v !== null) {
    const w = o >>> 2;
    for (let i = 0; i < list.length; i++) v[w + i] = list[i].length;
  } else {
    for (let i = 0; i < list.length; i++) b.writeUInt32LE(list[i].length, o + 4 * i);
  }
  const at = o + 4 * list.length;
  return text.length === 0 ? 0 : b.write(text, at, text.length * 3, "utf8");
}

/** Reads `count` strings written by writeStrings: lengths at `o`, `bytes` of text after them. */
function readStrings(b: Buffer, o: number, count: number, bytes: number): string[] {
  const at = o + 4 * count;
  if (at + bytes > b.length) throw new NodewsgiError("E_FRAME", "Frame strings run past the frame");
  const text = b.toString("utf8", at, at + bytes);
  const out = new Array<string>(count);
  const v = (o & 3) === 0 ? u32(b) : null;
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const n = v !== null ? v[(o >>> 2) + i] : b.readUInt32LE(o + 4 * i);
    out[i] = text.slice(pos, pos + n);
    pos += n;
  }
  if (pos !== text.length) throw new NodewsgiError("E_FRAME", "Frame strings do not match their lengths");
  return out;
}

/** The front end's side of the layout numbering (one per request ring). */
export class EnvironLayouts {
  private readonly keys: (readonly string[] | null)[] = [];
  /** The values last sent with each layout: a value equal to its predecessor is not resent. */
  private readonly values: string[][] = [];
  private readonly used: number[] = [];
  private clock = 0;
  private last = -1;

  constructor(private readonly max = MAX_LAYOUTS) {}

  /**
   * The number for the key sequence of `pairs`, whether the keys must travel with it, and the
   * values last sent with that number (to compare with; the caller updates it as it encodes).
   */
  number(pairs: readonly string[]): { id: number; define: boolean; values: string[] } {
    const tick = ++this.clock;
    if (this.last >= 0 && sameKeys(this.keys[this.last] as readonly string[], pairs)) {
      this.used[this.last] = tick;
      return { id: this.last, define: false, values: this.values[this.last] };
    }
    for (let i = 0; i < this.keys.length; i++) {
      const keys = this.keys[i];
      if (i !== this.last && keys !== null && sameKeys(keys, pairs)) {
        this.used[i] = tick;
        this.last = i;
        return { id: i, define: false, values: this.values[i] };
      }
    }
    let id = this.keys.length;
    if (id >= this.max) {
      id = 0;
      for (let i = 1; i < this.used.length; i++) if (this.used[i] < this.used[id]) id = i;
    }
    const keys: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) keys.push(pairs[i]);
    this.keys[id] = keys;
    this.values[id] = new Array<string>(keys.length);
    this.used[id] = tick;
    this.last = id;
    return { id, define: true, values: this.values[id] };
  }

  /** Drop a layout whose frame was not sent after all: its next use defines it afresh. */
  forget(id: number): void {
    if (id >= this.keys.length) return;
    this.keys[id] = null;
    this.used[id] = 0;
    if (this.last === id) this.last = -1;
  }
}

/** The worker's side: the keys of each layout number, as last defined, and its last values. */
export class LayoutTable {
  private readonly keys: (readonly string[])[] = [];
  private readonly values: string[][] = [];

  define(id: number, keys: readonly string[]): string[] {
    this.keys[id] = keys;
    return (this.values[id] = new Array<string>(keys.length));
  }

  get(id: number): { keys: readonly string[]; values: string[] } {
    const keys = this.keys[id];
    if (keys === undefined) throw new NodewsgiError("E_FRAME", `Request frame uses undefined environ layout ${id}`);
    return { keys, values: this.values[id] };
  }
}

function sameKeys(keys: readonly string[], pairs: readonly string[]): boolean {
  if (pairs.length !== keys.length * 2) return false;
  for (let i = 0; i < keys.length; i++) if (pairs[2 * i] !== keys[i]) return false;
  return true;
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

/** A request made ready to write: its strings, layout number and worst-case frame size. */
export interface EncodedRequest {
  readonly bound: number;
  readonly strings: readonly string[];
  readonly text: string;
  readonly layout: number;
  readonly keys: boolean;
  /** For a known layout: which values are unchanged since its last request (bit set), else null. */
  readonly same: Uint8Array | null;
}

/**
 * Prepare `req` for writeRequest (and tell the caller, through `bound`, whether it fits the
 * ring). Numbers its layout in `layouts` and records its values there: the frame must then be
 * written, in order, or the layout forgotten (EnvironLayouts.forget).
 */
export function encodeRequest(req: AppRequest, layouts: EnvironLayouts | null, inlineBody: number): EncodedRequest {
  const env = req.environ;
  const pairs = env.length >>> 1;
  const strings: string[] = [req.script, req.callable, req.applicationGroup, req.processGroup, req.method, req.logPrefix];
  let layout = NO_LAYOUT;
  let define = true;
  let same: Uint8Array | null = null;
  if (layouts !== null) {
    const n = layouts.number(env);
    layout = n.id;
    define = n.define;
    const last = n.values;
    if (define) {
      for (let i = 0; i < env.length; i += 2) strings.push(env[i]);
      for (let i = 0; i < pairs; i++) strings.push((last[i] = env[2 * i + 1]));
    } else {
      same = new Uint8Array((pairs + 7) >>> 3);
      for (let i = 0; i < pairs; i++) {
        const v = env[2 * i + 1];
        if (v === last[i]) same[i >>> 3] |= 1 << (i & 7);
        else strings.push((last[i] = v));
      }
    }
  } else {
    for (let i = 0; i < env.length; i += 2) strings.push(env[i]);
    for (let i = 1; i < env.length; i += 2) strings.push(env[i]);
  }
  const text = strings.join("");
  const sameBytes = same === null ? 0 : align4(same.length);
  return { bound: REQ_FIXED + sameBytes + stringsBound(strings.length, text) + inlineBody, strings, text, layout, keys: define, same };
}

const align4 = (n: number): number => (n + 3) & ~3;

export function writeRequest(out: RingProducer, id: number, req: AppRequest, body: BodyRef, enc: EncodedRequest): void {
  out.write(enc.bound, (b, o) => {
    const flags =
      (req.multithread ? Q_MULTITHREAD : 0) |
      (req.multiprocess ? Q_MULTIPROCESS : 0) |
      (req.runOnce ? Q_RUN_ONCE : 0) |
      (req.urlScheme === "https" ? Q_HTTPS : 0) |
      (enc.keys ? Q_KEYS : 0);
    b[o] = F_REQUEST;
    b[o + 1] = flags;
    b.writeUInt16LE(enc.layout, o + 2);
    b.writeUInt32LE(id, o + 4);
    b.writeDoubleLE(req.scriptMtimeMs ?? NaN, o + 8);
    b.writeDoubleLE(req.bodyLimit, o + 16);
    b.writeDoubleLE(body.length, o + 24);
    b.writeInt32LE(body.fd, o + 32);
    b.writeUInt32LE(req.environ.length >>> 1, o + 36);
    b.writeUInt32LE(enc.strings.length, o + 40);
    let at = o + REQ_FIXED;
    if (enc.same !== null) {
      b.set(enc.same, at);
      at += align4(enc.same.length);
    }
    const n = writeStrings(b, at, enc.strings, enc.text);
    b.writeUInt32LE(n, o + 44);
    let end = at + 4 * enc.strings.length + n;
    if (body.fd < 0 && body.data !== null && body.length > 0) {
      b.set(body.data, end);
      end += body.length;
    }
    return end - o;
  });
}

export function readRequest(b: Buffer, o: number, len: number, layouts: LayoutTable): DecodedRequest {
  const flags = b[o + 1];
  const layout = b.readUInt16LE(o + 2);
  const id = b.readUInt32LE(o + 4);
  const mtime = b.readDoubleLE(o + 8);
  const bodyLimit = b.readDoubleLE(o + 16);
  const bodyLength = b.readDoubleLE(o + 24);
  const fd = b.readInt32LE(o + 32);
  const pairs = b.readUInt32LE(o + 36);
  const count = b.readUInt32LE(o + 40);
  const bytes = b.readUInt32LE(o + 44);
  const withKeys = (flags & Q_KEYS) !== 0;
  const environ = new Array<string>(2 * pairs);
  let at = o + REQ_FIXED;
  let s: string[];
  if (withKeys) {
    if (count !== REQ_STRINGS + 2 * pairs) throw new NodewsgiError("E_FRAME", "Request frame string count does not match its environ");
    s = readStrings(b, at, count, bytes);
    const keys = s.slice(REQ_STRINGS, REQ_STRINGS + pairs);
    const last = layout !== NO_LAYOUT ? layouts.define(layout, keys) : null;
    for (let i = 0; i < pairs; i++) {
      const v = s[REQ_STRINGS + pairs + i];
      environ[2 * i] = keys[i];
      environ[2 * i + 1] = v;
      if (last !== null) last[i] = v;
    }
  } else {
    const { keys, values } = layouts.get(layout);
    if (keys.length !== pairs) throw new NodewsgiError("E_FRAME", `Request frame does not match environ layout ${layout}`);
    const same = at;
    at += align4((pairs + 7) >>> 3);
    s = readStrings(b, at, count, bytes);
    let next = REQ_STRINGS;
    for (let i = 0; i < pairs; i++) {
      environ[2 * i] = keys[i];
      if ((b[same + (i >>> 3)] & (1 << (i & 7))) === 0) {
        if (next >= count) throw new NodewsgiError("E_FRAME", "Request frame has fewer values than its environ");
        values[i] = s[next++];
      }
      environ[2 * i + 1] = values[i];
    }
    if (next !== count) throw new NodewsgiError("E_FRAME", "Request frame has more values than its environ");
  }
  let data: Buffer | null = null;
  if (fd < 0 && bodyLength > 0) {
    const start = at + 4 * count + bytes;
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
    environ,
    urlScheme: (flags & Q_HTTPS) !== 0 ? "https" : "http",
    multithread: (flags & Q_MULTITHREAD) !== 0,
    multiprocess: (flags & Q_MULTIPROCESS) !== 0,
    runOnce: (flags & Q_RUN_ONCE) !== 0,
    bodyLimit,
    scriptMtimeMs: Number.isNaN(mtime) ? undefined : mtime,
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
  let strings: string[] | null = null;
  let text = "";
  if (head !== null) {
    strings = [head.reason];
    for (const [k, v] of head.headers) strings.push(k, v);
    text = strings.join("");
    flags |= R_HEAD;
  } else {
    flags &= ~R_HEAD;
  }
  const chunkLen = chunk === null ? 0 : chunk.length;
  if (chunkLen > 0) flags |= R_BODY;
  const bound = (strings !== null ? RESP_HEAD_FIXED + stringsBound(strings.length, text) : RESP_FIXED) + chunkLen;
  out.write(bound, (b, o) => {
    b[o] = F_RESPONSE;
    b[o + 1] = flags;
    b.writeUInt16LE(head !== null ? head.status : 0, o + 2);
    b.writeUInt32LE(id, o + 4);
    let end = o + RESP_FIXED;
    if (strings !== null) {
      b.writeUInt32LE(strings.length, o + 8);
      const n = writeStrings(b, o + RESP_HEAD_FIXED, strings, text);
      b.writeUInt32LE(n, o + 12);
      end = o + RESP_HEAD_FIXED + 4 * strings.length + n;
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
    if (count === 0 || count % 2 !== 1) throw new NodewsgiError("E_FRAME", "Response head frame with a bad string count");
    const s = readStrings(b, o + RESP_HEAD_FIXED, count, bytes);
    const headers: [string, string][] = [];
    for (let i = 1; i + 1 < s.length; i += 2) headers.push([s[i], s[i + 1]]);
    head = { status: b.readUInt16LE(o + 2), reason: s[0], headers };
    start = o + RESP_HEAD_FIXED + 4 * count + bytes;
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
