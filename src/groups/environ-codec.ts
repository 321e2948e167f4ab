/**
 * How a request's strings and environ cross to another thread or process (worker-thread rings,
 * ./queue-protocol; daemon sockets, ./daemon-protocol).
 *
 * Strings travel as a list: the UTF-16 length of each (u32) and then all of them as one UTF-8
 * text. Encoding is one `join("")` and one native write; decoding is one native read and a
 * `slice` per string. No separator is needed, so any string (a NUL included) goes through, and
 * UTF-16 lengths survive the round trip (a lone surrogate becomes U+FFFD, also one unit).
 *
 * Environ keys barely vary from request to request (the route and the set of header names fix
 * them), so the key sequence travels once: the sender numbers each sequence it sends
 * (EnvironLayouts, a small table replaced least-recently-used first), a request carries its
 * layout's number and only the values, and the first request of a new number carries the keys
 * as well. Most values repeat too (server name, script, document root, mod_wsgi.* settings):
 * a request of a known layout carries a bitmap of the values equal to the previous request's
 * and only the others. The receiver keeps the keys and last values per number (LayoutTable):
 * the same string objects each time, which is also what lets its environ builder
 * (app/environ.ts) recognise the sequence by identity. Both channels deliver frames in the
 * order they were encoded, so both tables stay in step.
 *
 * A request answered from a route plan has no list (src/map/environ.ts CgiEnviron): its parts
 * (the plan's variables, the request's headers, the CGI and mod_wsgi.* fields, compiled once
 * from src/map/environ-fields.ts) are encoded in the same form without making one. Its layout
 * is found by the parts' identity (the same variables array, fields object and header keys)
 * instead of comparing every key, and the receiver cannot tell the two apart: what it keeps
 * per number is the same, so a ring or link that starts afresh (a new worker, a new
 * connection) starts both tables empty, as before.
 */
import { NodewsgiError } from "../errors";
import type { AppRequest } from "./types";
import { isList, type EnvironPairs } from "../app/environ-pairs";

/** Layout number meaning "not numbered": the keys travel with this request only. */
export const NO_LAYOUT = 0xffff;
/** Layouts numbered per channel; a new one beyond this replaces the least recently used. */
export const MAX_LAYOUTS = 64;

export const align4 = (n: number): number => (n + 3) & ~3;

/** Bytes needed to write `list` (its lengths and, at worst, 3 UTF-8 bytes per UTF-16 unit). */
export function stringsBound(count: number, text: string): number {
  return charsBound(count, text.length);
}

/** stringsBound for `count` strings of `chars` UTF-16 units in all, without joining them. */
export function charsBound(count: number, chars: number): number {
  return count * 4 + chars * 3;
}

/**
 * A 32-bit view of `b` for the length arrays (ring frames start 8-byte aligned, so the lengths
 * are 4-byte aligned): one typed-array store per string instead of a Buffer method call. The
 * last view is kept: a side decodes from one ring buffer again and again. Small buffers (a
 * daemon frame, a new one each time) are not worth a view of their own.
 */
let viewed: Buffer | null = null;
let view: Uint32Array = new Uint32Array(0);
const VIEW_MIN_BYTES = 64 * 1024;
function u32(b: Buffer): Uint32Array | null {
  if ((b.byteOffset & 3) !== 0) return null;
  if (b !== viewed) {
    if (b.length < VIEW_MIN_BYTES) return null;
    view = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
    viewed = b;
  }
  return view;
}

/** Writes the lengths of `list` at `o`, then `text` (their concatenation); returns the UTF-8 byte count. */
export function writeStrings(b: Buffer, o: number, list: readonly string[], text: string): number {
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
export function readStrings(b: Buffer, o: number, count: number, bytes: number): string[] {
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
  /** For a layout defined from a plan's parts, what they were (to find it again without comparing keys). */
  private readonly plans: (PlanShape | null)[] = [];
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
    const keys: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) keys.push(pairs[i]);
    return this.define(keys, null, tick);
  }

  /** number() for a plan's parts (and a daemon group's `extra` pairs, or null). */
  numberPlan(p: WireParts, extra: readonly string[] | null): { id: number; define: boolean; values: string[] } {
    const tick = ++this.clock;
    const last = this.last;
    if (last >= 0) {
      const s = this.plans[last];
      if (s != null && fitsPlan(s, p, extra)) {
        this.used[last] = tick;
        return { id: last, define: false, values: this.values[last] };
      }
    }
    for (let i = 0; i < this.plans.length; i++) {
      const s = this.plans[i];
      if (i !== last && s != null && fitsPlan(s, p, extra)) {
        this.used[i] = tick;
        this.last = i;
        return { id: i, define: false, values: this.values[i] };
      }
    }
    const headers: string[] = [];
    for (let i = 0; i < p.headers.length; i += 2) headers.push(p.headers[i]);
    const keys = [...p.variables, ...headers, ...p.keys];
    if (extra !== null) for (let i = 0; i < extra.length; i += 2) keys.push(extra[i]);
    const plan: PlanShape = { variables: p.variables, headers, fields: p.keys, extra };
    // The same keys numbered already (by a request that carried its list): take that number,
    // so the receiver keeps one set of key strings (its environ builder compares them by
    // identity first) and the keys do not travel again.
    for (let i = 0; i < this.keys.length; i++) {
      const known = this.keys[i];
      if (known != null && this.plans[i] == null && sameList(known, keys)) {
        this.plans[i] = plan;
        this.used[i] = tick;
        this.last = i;
        return { id: i, define: false, values: this.values[i] };
      }
    }
    return this.define(keys, plan, tick);
  }

  private define(keys: readonly string[], plan: PlanShape | null, tick: number): { id: number; define: true; values: string[] } {
    let id = this.keys.length;
    if (id >= this.max) {
      id = 0;
      for (let i = 1; i < this.used.length; i++) if (this.used[i] < this.used[id]) id = i;
    }
    this.keys[id] = keys;
    this.plans[id] = plan;
    this.values[id] = new Array<string>(keys.length);
    this.used[id] = tick;
    this.last = id;
    return { id, define: true, values: this.values[id] };
  }

  /** The keys a layout number was last defined with. */
  keysOf(id: number): readonly string[] {
    return this.keys[id] as readonly string[];
  }

  /**
   * Drop every layout (encoding failed part-way, having recorded values that will not be
   * sent): each next use defines its layout afresh, keys and all.
   */
  forgetAll(): void {
    for (let id = 0; id < this.keys.length; id++) this.forget(id);
  }

  /** Drop a layout whose frame was not sent after all: its next use defines it afresh. */
  forget(id: number): void {
    if (id >= this.keys.length) return;
    this.keys[id] = null;
    this.plans[id] = null;
    this.used[id] = 0;
    if (this.last === id) this.last = -1;
  }
}

/** Keys LayoutTable remembers before it starts afresh (a client inventing header names). */
const KNOWN_KEYS_MAX = 4096;

/** The worker's side: the keys of each layout number, as last defined, and its last values. */
export class LayoutTable {
  private readonly keys: (readonly string[])[] = [];
  private readonly values: string[][] = [];
  /**
   * Every key defined so far, so that a key sequence defined again (under a replaced number,
   * or a second number for the same keys) is made of the same string objects as before: the
   * environ builder (app/environ.ts) compares keys by identity before it compares their text.
   */
  private readonly known = new Map<string, string>();

  /** Number `id` is now `defined` (its keys as kept: the same objects as earlier definitions'). */
  define(id: number, defined: readonly string[]): { keys: readonly string[]; values: string[] } {
    if (this.known.size > KNOWN_KEYS_MAX) this.known.clear();
    const keys = new Array<string>(defined.length);
    for (let i = 0; i < defined.length; i++) {
      const k = defined[i];
      const had = this.known.get(k);
      if (had === undefined) this.known.set(k, k);
      keys[i] = had ?? k;
    }
    this.keys[id] = keys;
    const values = (this.values[id] = new Array<string>(keys.length));
    return { keys, values };
  }

  get(id: number): { keys: readonly string[]; values: string[] } {
    const keys = this.keys[id];
    if (keys === undefined) throw new NodewsgiError("E_FRAME", `Request frame uses undefined environ layout ${id}`);
    return { keys, values: this.values[id] };
  }
}

/** What a plan's layout was defined from: its keys follow from these (the fields' keys fixed per array). */
interface PlanShape {
  readonly variables: readonly string[];
  readonly headers: readonly string[];
  readonly fields: readonly string[];
  readonly extra: readonly string[] | null;
}

function fitsPlan(s: PlanShape, p: WireParts, extra: readonly string[] | null): boolean {
  // A daemon group's extra pairs are one array per group whose keys never change.
  if (s.fields !== p.keys || s.extra !== extra) return false;
  const h = p.headers;
  if (h.length !== 2 * s.headers.length) return false;
  for (let i = 0; i < s.headers.length; i++) if (h[2 * i] !== s.headers[i]) return false;
  if (s.variables === p.variables) return true;
  if (s.variables.length !== p.variables.length) return false;
  for (let i = 0; i < s.variables.length; i++) if (s.variables[i] !== p.variables[i]) return false;
  return true;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameKeys(keys: readonly string[], pairs: readonly string[]): boolean {
  if (pairs.length !== keys.length * 2) return false;
  for (let i = 0; i < keys.length; i++) if (pairs[2 * i] !== keys[i]) return false;
  return true;
}

/** How an environ was encoded: its layout number, whether its keys travel, the "same" bitmap. */
export interface EncodedEnviron {
  readonly layout: number;
  readonly keys: boolean;
  /** For a known layout: which values are unchanged since its last request (bit set), else null. */
  readonly same: Uint8Array | null;
  /** Key/value pairs in the environ. */
  readonly pairs: number;
}

/**
 * A lazy environ that can give its parts for encoding without its list (CgiEnviron, for a
 * request answered from a route plan).
 */
export interface WireEnviron {
  /** The parts without the keys of `drop`, or null when the list must be used. */
  wireParts(drop: ReadonlySet<string> | null): WireParts | null;
}

/** An environ as its variables, its HTTP_* pairs, then fixed keys whose values `encode` writes. */
export interface WireParts {
  readonly variables: readonly string[];
  readonly values: readonly string[];
  /** HTTP_* keys and values. */
  readonly headers: readonly string[];
  /** The keys after the headers: the same array for every request with the same fields. */
  readonly keys: readonly string[];
  /** Their values, as encodeEnviron does for a list: environ index `at` on, `same` null when defining. */
  encode(last: string[], at: number, same: Uint8Array | null, out: string[]): void;
}

/** How a daemon group rewrites the environ it sends: keys dropped, pairs appended (the same array each time). */
export interface EnvironRewrite {
  /** Environ keys to leave out (the daemon keys the request may already carry): every one starts with "mod_wsgi.". */
  readonly drop: ReadonlySet<string>;
  /** Environ pairs to add at the end. */
  readonly extra: readonly string[];
}

function isWire(e: EnvironPairs): e is EnvironPairs & WireEnviron {
  return typeof (e as Partial<WireEnviron>).wireParts === "function";
}

/**
 * Append the environ `env` to `strings`: its keys if they must travel, then its values (only
 * the changed ones for a known layout). `x` rewrites it for a daemon group first. Numbers the
 * layout in `layouts` and records the values there: the frame must then be sent, in order, or
 * the layout forgotten (EnvironLayouts.forget). With `layouts` null every key and value travels.
 */
export function encodeEnviron(env: EnvironPairs, layouts: EnvironLayouts | null, strings: string[], x: EnvironRewrite | null = null): EncodedEnviron {
  if (layouts !== null && !isList(env) && isWire(env)) {
    const p = env.wireParts(x === null ? null : x.drop);
    if (p !== null) return encodeParts(p, x === null ? null : x.extra, layouts, strings);
  }
  const list = isList(env) ? env : env.pairs();
  return encodeList(x === null ? list : rewritten(list, x.drop, x.extra), layouts, strings);
}
function encodeList(env: readonly string[], layouts: EnvironLayouts | null, strings: string[]): EncodedEnviron {
  const pairs = env.length >>> 1;
  if (layouts === null) {
    for (let i = 0; i < env.length; i += 2) strings.push(env[i]);
    for (let i = 1; i < env.length; i += 2) strings.push(env[i]);
    return { layout: NO_LAYOUT, keys: true, same: null, pairs };
  }
  const n = layouts.number(env);
  const last = n.values;
  if (n.define) {
    for (let i = 0; i < env.length; i += 2) strings.push(env[i]);
    for (let i = 0; i < pairs; i++) strings.push((last[i] = env[2 * i + 1]));
    return { layout: n.id, keys: true, same: null, pairs };
  }
  const same = new Uint8Array((pairs + 7) >>> 3);
  for (let i = 0; i < pairs; i++) {
    const v = env[2 * i + 1];
    if (v === last[i]) same[i >>> 3] |= 1 << (i & 7);
    else strings.push((last[i] = v));
  }
  return { layout: n.id, keys: false, same, pairs };
}

/** encodeList's output for a plan's parts, without the list. */
function encodeParts(p: WireParts, extra: readonly string[] | null, layouts: EnvironLayouts, strings: string[]): EncodedEnviron {
  const n = layouts.numberPlan(p, extra);
  const last = n.values;
  const pairs = last.length;
  let same: Uint8Array | null = null;
  if (n.define) {
    const keys = layouts.keysOf(n.id);
    for (let i = 0; i < keys.length; i++) strings.push(keys[i]);
  } else {
    same = new Uint8Array((pairs + 7) >>> 3);
  }
  let i = 0;
  const values = p.values;
  for (let k = 0; k < values.length; k++, i++) {
    const v = values[k];
    if (same !== null && v === last[i]) same[i >>> 3] |= 1 << (i & 7);
    else strings.push((last[i] = v));
  }
  const h = p.headers;
  for (let k = 1; k < h.length; k += 2, i++) {
    const v = h[k];
    if (same !== null && v === last[i]) same[i >>> 3] |= 1 << (i & 7);
    else strings.push((last[i] = v));
  }
  p.encode(last, i, same, strings);
  i += p.keys.length;
  if (extra !== null) {
    for (let k = 1; k < extra.length; k += 2, i++) {
      const v = extra[k];
      if (same !== null && v === last[i]) same[i >>> 3] |= 1 << (i & 7);
      else strings.push((last[i] = v));
    }
  }
  return { layout: n.id, keys: n.define, same, pairs };
}

/**
 * The environ a daemon group sends: `env` without the keys in `drop` (every one of them starts
 * with 'm', mod_wsgi.*, so most keys skip the hash lookup), then `extra`. The kept keys are the
 * request's own string objects, so the layout is recognised by identity.
 */
function rewritten(env: readonly string[], drop: ReadonlySet<string>, extra: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < env.length; i += 2) {
    const k = env[i];
    if (k.charCodeAt(0) === 109 && drop.has(k)) continue;
    out.push(k, env[i + 1]);
  }
  for (let i = 0; i < extra.length; i++) out.push(extra[i]);
  return out;
}

/** Bytes the "same" bitmap of `enc` takes in a frame (padded to 4: the lengths follow). */
export function sameBytes(enc: EncodedEnviron): number {
  return enc.same === null ? 0 : align4(enc.same.length);
}

/**
 * Read what encodeEnviron wrote, as `sameBytes` + writeStrings at `o`: `fixed` strings first
 * (returned in `strings`), then the environ of `pairs` pairs. Returns the environ, every string
 * read, and the offset just past the text.
 */
export function decodeEnviron(
  b: Buffer,
  o: number,
  layout: number,
  withKeys: boolean,
  pairs: number,
  fixed: number,
  count: number,
  bytes: number,
  layouts: LayoutTable,
): { environ: string[]; strings: string[]; end: number } {
  const environ = new Array<string>(2 * pairs);
  let at = o;
  let s: string[];
  if (withKeys) {
    if (count !== fixed + 2 * pairs) throw new NodewsgiError("E_FRAME", "Frame string count does not match its environ");
    s = readStrings(b, at, count, bytes);
    let keys: readonly string[] = s.slice(fixed, fixed + pairs);
    let last: string[] | null = null;
    if (layout !== NO_LAYOUT) ({ keys, values: last } = layouts.define(layout, keys));
    for (let i = 0; i < pairs; i++) {
      const v = s[fixed + pairs + i];
      environ[2 * i] = keys[i];
      environ[2 * i + 1] = v;
      if (last !== null) last[i] = v;
    }
  } else {
    const { keys, values } = layouts.get(layout);
    if (keys.length !== pairs) throw new NodewsgiError("E_FRAME", `Frame does not match environ layout ${layout}`);
    const same = at;
    at += align4((pairs + 7) >>> 3);
    s = readStrings(b, at, count, bytes);
    let next = fixed;
    for (let i = 0; i < pairs; i++) {
      environ[2 * i] = keys[i];
      if ((b[same + (i >>> 3)] & (1 << (i & 7))) === 0) {
        if (next >= count) throw new NodewsgiError("E_FRAME", "Frame has fewer values than its environ");
        values[i] = s[next++];
      }
      environ[2 * i + 1] = values[i];
    }
    if (next !== count) throw new NodewsgiError("E_FRAME", "Frame has more values than its environ");
  }
  return { environ, strings: s, end: at + 4 * count + bytes };
}

/**
 * An AppRequest's flag bits, the same in both protocols (each keeps the bits above REQ_KEYS for
 * its own use).
 */
export const REQ_HTTPS = 1;
export const REQ_MULTITHREAD = 2;
export const REQ_MULTIPROCESS = 4;
export const REQ_RUN_ONCE = 8;
/** The frame carries its layout's keys (a new or replaced layout number, or none). */
export const REQ_KEYS = 16;

/** How many of a request's strings come before its environ (requestStrings). */
export const REQUEST_STRINGS = 6;

/** A request's own strings, in wire order; encodeEnviron appends the environ's. */
export function requestStrings(req: AppRequest, processGroup = req.processGroup): string[] {
  return [req.script, req.callable, req.applicationGroup, processGroup, req.method, req.logPrefix];
}

/** The flag bits of a request, with `mode` as the group runs it (it may differ from `req`'s). */
export function requestFlags(
  req: AppRequest,
  mode: { readonly multithread: boolean; readonly multiprocess: boolean; readonly runOnce: boolean },
  keys: boolean,
): number {
  return (
    (req.urlScheme === "https" ? REQ_HTTPS : 0) |
    (mode.multithread ? REQ_MULTITHREAD : 0) |
    (mode.multiprocess ? REQ_MULTIPROCESS : 0) |
    (mode.runOnce ? REQ_RUN_ONCE : 0) |
    (keys ? REQ_KEYS : 0)
  );
}

/** The AppRequest back from its strings (requestStrings order), environ and flag bits. */
export function decodedRequest(
  s: readonly string[],
  environ: string[],
  flags: number,
  bodyLimit: number,
  scriptMtimeMs: number | undefined,
): AppRequest & { environ: string[] } {
  return {
    script: s[0],
    callable: s[1],
    applicationGroup: s[2],
    processGroup: s[3],
    method: s[4],
    logPrefix: s[5],
    environ,
    urlScheme: (flags & REQ_HTTPS) !== 0 ? "https" : "http",
    multithread: (flags & REQ_MULTITHREAD) !== 0,
    multiprocess: (flags & REQ_MULTIPROCESS) !== 0,
    runOnce: (flags & REQ_RUN_ONCE) !== 0,
    bodyLimit,
    // Always present (undefined when unknown): one object shape for every request.
    scriptMtimeMs,
  };
}
