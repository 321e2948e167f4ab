/**
 * The frames an application group's two rings (./request-queue) carry between the front-end
 * thread and the group's worker. All integers little-endian. Strings and the environ travel in
 * ./environ-codec's form: lengths then one UTF-8 run; a key sequence once per ring, then only
 * the values that changed.
 */
import { NodewsgiError } from "../errors";
import type { AppRequest } from "./types";
import type { RingProducer } from "./request-queue";
import { USER0 } from "./request-queue";
import {
  EnvironLayouts, LayoutTable, REQ_KEYS, REQUEST_STRINGS, decodeEnviron, decodedRequest, encodeEnviron, readStrings, requestFlags, requestStrings,
  charsBound, sameBytes, stringsBound, writeStrings,
} from "./environ-codec";

export { EnvironLayouts, LayoutTable, MAX_LAYOUTS } from "./environ-codec";

/** Front end -> worker. */
export const F_REQUEST = 1;
export const F_ABORT = 2;
export const F_CREDIT = 3;
export const F_PRELOAD = 4;
/** A hook script call (src/app/hooks.ts): the script as `a`, the rest of the HookCall as JSON in `b`. */
export const F_HOOK = 5;
/** Worker -> front end. */
export const F_RESPONSE = 16;
export const F_LOG = 17;
export const F_PRELOADED = 18;
/** A hook's HookReply, as JSON in `b`. */
export const F_HOOK_DONE = 19;

/** F_RESPONSE flags: which parts the frame carries, in this order. */
export const R_HEAD = 1;
export const R_BODY = 2;
export const R_END = 4;
export const R_DONE = 8;
export const R_DESTROY = 16;
/** With R_HEAD: the head is the server's own error page (written through ResponseSink.writeErrorHead), not the application's. */
export const R_SERVER_PAGE = 32;

const REQ_FIXED = 48;
const RESP_FIXED = 8;
const RESP_HEAD_FIXED = 16;

/** Control word in the request ring: how many requests the worker has started (FIFO). */
export const STARTED_WORD = USER0;

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
  /** Key/value pairs in the environ. */
  readonly pairs: number;
}

/**
 * Prepare `req` for writeRequest (and tell the caller, through `bound`, whether it fits the
 * ring). Numbers its layout in `layouts` and records its values there: the frame must then be
 * written, in order, or the layout forgotten (EnvironLayouts.forget).
 */
export function encodeRequest(req: AppRequest, layouts: EnvironLayouts | null, inlineBody: number): EncodedRequest {
  const strings = requestStrings(req);
  const env = encodeEnviron(req.environ, layouts, strings);
  const text = strings.join("");
  return { bound: REQ_FIXED + sameBytes(env) + stringsBound(strings.length, text) + inlineBody, strings, text, layout: env.layout, keys: env.keys, same: env.same, pairs: env.pairs };
}

export function writeRequest(out: RingProducer, id: number, req: AppRequest, body: BodyRef, enc: EncodedRequest): void {
  out.write(enc.bound, (b, o) => {
    b[o] = F_REQUEST;
    b[o + 1] = requestFlags(req, req, enc.keys);
    b.writeUInt16LE(enc.layout, o + 2);
    b.writeUInt32LE(id, o + 4);
    b.writeDoubleLE(req.scriptMtimeMs ?? NaN, o + 8);
    b.writeDoubleLE(req.bodyLimit, o + 16);
    b.writeDoubleLE(body.length, o + 24);
    b.writeInt32LE(body.fd, o + 32);
    b.writeUInt32LE(enc.pairs, o + 36);
    b.writeUInt32LE(enc.strings.length, o + 40);
    let at = o + REQ_FIXED;
    if (enc.same !== null) {
      b.set(enc.same, at);
      at += sameBytes(enc);
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
  const { environ, strings: s, end } = decodeEnviron(b, o + REQ_FIXED, layout, (flags & REQ_KEYS) !== 0, pairs, REQUEST_STRINGS, count, bytes, layouts);
  let data: Buffer | null = null;
  if (fd < 0 && bodyLength > 0) {
    const start = end;
    if (start + bodyLength > o + len) throw new NodewsgiError("E_FRAME", "Request frame shorter than its body");
    data = Buffer.allocUnsafe(bodyLength);
    b.copy(data, 0, start, start + bodyLength); // the ring slot is reused once we return
  }
  const req = decodedRequest(s, environ, flags, bodyLimit, Number.isNaN(mtime) ? undefined : mtime);
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
  /** The server's own error page (R_SERVER_PAGE). */
  readonly serverPage?: boolean;
}

/** The room a frame reserves for `head` (the bound writeResponse reserves with it). */
export function responseHeadBound(reason: string, headers: readonly (readonly [string, string])[]): number {
  let chars = reason.length;
  for (let i = 0; i < headers.length; i++) chars += headers[i][0].length + headers[i][1].length;
  return RESP_HEAD_FIXED + charsBound(1 + 2 * headers.length, chars);
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
    flags |= head.serverPage === true ? R_HEAD | R_SERVER_PAGE : R_HEAD;
  } else {
    flags &= ~(R_HEAD | R_SERVER_PAGE);
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
  readonly head: { status: number; reason: string; headers: [string, string][]; serverPage: boolean } | null;
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
    head = { status: b.readUInt16LE(o + 2), reason: s[0], headers, serverPage: (flags & R_SERVER_PAGE) !== 0 };
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

/** The most room a writePair frame of these strings can take (what the ring must be able to hold). */
export function pairBound(a: string, bText: string): number {
  return 12 + (a.length + bText.length) * 3;
}

/** Two strings in one frame: `a` length-prefixed, `b` the rest (log lines, preloads, hook calls). */
export function writePair(out: RingProducer, type: number, byte1: number, id: number, a: string, bText: string): void {
  out.write(pairBound(a, bText), (b, o) => {
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
