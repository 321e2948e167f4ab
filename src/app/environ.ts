/**
 * The environ handed to an application: a plain object (own enumerable properties, so
 * `Object.entries`, `in`, spread and JSON all see every key), built per request from the flat
 * `[key, value, ...]` list the map phase produces plus the non-string `wsgi.*` keys.
 *
 * As mod_wsgi's adapter does, an `HTTPS` key of `on`/`1` turns `wsgi.url_scheme` into `https`,
 * and `HTTPS` and `PATH` are not passed to the application. A `wsgi.url_scheme` string in the
 * list (trusted-proxy rewriting sets one) wins over `urlScheme`.
 */
import * as fs from "node:fs";
import type { WsgiInput } from "./input";
import type { WsgiErrors } from "./errors-stream";
import { environPairs, isList, type EnvironPairs } from "./environ-pairs";

export type Environ = Record<string, unknown>;

export interface EnvironOptions {
  readonly urlScheme: "http" | "https";
  readonly input: WsgiInput;
  readonly errors: WsgiErrors;
  readonly multithread: boolean;
  readonly multiprocess: boolean;
  readonly runOnce: boolean;
  /** Further non-string keys (`mod_wsgi.thread_id`, ...), copied last. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export const WSGI_VERSION = Object.freeze([1, 0]) as readonly number[];

/** The environ object for `pairs`; a lazy list that can build the object without being made is not made. */
export function buildEnviron(pairs: EnvironPairs, opts: EnvironOptions): Environ {
  let env: Environ | null = null;
  if (!isList(pairs)) env = pairs.object(opts);
  if (env === null) env = fromPairs(environPairs(pairs), opts);
  if (opts.extra) Object.assign(env, opts.extra);
  return env;
}

function fromPairs(pairs: readonly string[], opts: EnvironOptions): Environ {
  const layout = layouts.find(pairs);
  return layout === null ? buildGeneric(pairs, opts) : layout.build(pairs, layout.scheme(pairs, opts.urlScheme), opts, WSGI_VERSION, fileWrapper);
}

/** The reference construction: one property per pair, in order; later keys win. */
function buildGeneric(pairs: readonly string[], opts: EnvironOptions): Environ {
  const env: Environ = {};
  let scheme: string = opts.urlScheme;
  let schemeSet = false;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const key = pairs[i];
    const value = pairs[i + 1];
    if (key === "PATH") continue;
    if (key === "HTTPS") {
      const v = value.toLowerCase();
      if (!schemeSet && (v === "on" || v === "1")) scheme = "https";
      continue;
    }
    if (key === "wsgi.url_scheme") {
      scheme = value;
      schemeSet = true;
      continue;
    }
    if (key === "__proto__") Object.defineProperty(env, key, { value, enumerable: true, writable: true, configurable: true });
    else env[key] = value;
  }
  env["wsgi.version"] = WSGI_VERSION;
  env["wsgi.url_scheme"] = scheme;
  env["wsgi.input"] = opts.input;
  env["wsgi.errors"] = opts.errors;
  env["wsgi.multithread"] = opts.multithread;
  env["wsgi.multiprocess"] = opts.multiprocess;
  env["wsgi.run_once"] = opts.runOnce;
  env["wsgi.input_terminated"] = true;
  env["wsgi.file_wrapper"] = fileWrapper;
  return env;
}

/*
 * Why layouts: an environ has ~50 keys, and adding them one by one with computed names costs
 * V8 a slow store each (the object ends up in dictionary mode): about 2 µs a request, a tenth
 * of the whole request. But the key sequence barely varies: it is fixed by the route and the
 * set of header names a client sends, and the keys are the same string objects each time
 * (constants, config strings, the engines' memoised header keys). So a key sequence seen
 * twice gets a constructor compiled for it, an object literal `{"HTTP_HOST": p[1], ...}`,
 * which V8 builds in a fraction of the time with a fast, shared shape. The result is the same
 * object the generic loop builds: same keys, same order, same values (a literal's repeated key
 * keeps its first position and takes its last value, as repeated assignment does).
 */

type Build = (pairs: readonly string[], scheme: string, opts: EnvironOptions, version: readonly number[], wrapper: typeof fileWrapper) => Environ;

interface Layout {
  /** The keys (even entries of the pairs), compared by identity first. */
  readonly keys: readonly string[];
  readonly build: Build;
  /** `wsgi.url_scheme` as the generic loop decides it, from this layout's HTTPS/wsgi.url_scheme pairs. */
  scheme(pairs: readonly string[], fallback: "http" | "https"): string;
}

/** Compiled layouts kept, and key sequences remembered as seen once (candidates). */
const LAYOUTS_MAX = 16;

class LayoutCache {
  private readonly compiled: Layout[] = [];
  private readonly seenOnce: (readonly string[])[] = [];
  /** False when code generation is disallowed (--disallow-code-generation-from-strings). */
  private enabled = true;

  /**
   * The compiled layout for these pairs, or null (use the generic loop). A sequence is
   * compiled on its second sighting, so a client inventing header names each request costs
   * a few comparisons, never a compilation.
   */
  find(pairs: readonly string[]): Layout | null {
    if (!this.enabled) return null;
    for (let i = 0; i < this.compiled.length; i++) {
      if (sameKeys(this.compiled[i].keys, pairs)) return this.compiled[i];
    }
    const seen = this.seenOnce.findIndex((keys) => sameKeys(keys, pairs));
    if (seen < 0) {
      remember(this.seenOnce, keysOf(pairs));
      return null;
    }
    const keys = this.seenOnce[seen];
    this.seenOnce.splice(seen, 1);
    if (keys.includes("__proto__")) return null; // a literal would set the prototype instead
    let layout: Layout;
    try {
      layout = compileLayout(keys);
    } catch {
      this.enabled = false;
      return null;
    }
    remember(this.compiled, layout);
    return layout;
  }
}

/** Keep at most LAYOUTS_MAX entries, dropping the oldest. */
function remember<T>(list: T[], item: T): void {
  if (list.length >= LAYOUTS_MAX) list.shift();
  list.push(item);
}

function keysOf(pairs: readonly string[]): string[] {
  const keys: string[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) keys.push(pairs[i]);
  return keys;
}

function sameKeys(keys: readonly string[], pairs: readonly string[]): boolean {
  if (pairs.length !== keys.length * 2) return false;
  for (let i = 0; i < keys.length; i++) if (pairs[2 * i] !== keys[i]) return false;
  return true;
}

function compileLayout(keys: readonly string[]): Layout {
  const props: string[] = [];
  const https: number[] = [];
  let schemeAt = -1;
  keys.forEach((key, i) => {
    const at = 2 * i + 1;
    if (key === "PATH") return;
    if (key === "HTTPS") https.push(at);
    else if (key === "wsgi.url_scheme") schemeAt = at;
    else props.push(`${JSON.stringify(key)}: p[${at}]`);
  });
  props.push(
    `"wsgi.version": version`,
    `"wsgi.url_scheme": scheme`,
    `"wsgi.input": o.input`,
    `"wsgi.errors": o.errors`,
    `"wsgi.multithread": o.multithread`,
    `"wsgi.multiprocess": o.multiprocess`,
    `"wsgi.run_once": o.runOnce`,
    `"wsgi.input_terminated": true`,
    `"wsgi.file_wrapper": wrapper`,
  );
  // Keys are embedded as JSON string literals; values are only ever read from `p`.
  const build = new Function("p", "scheme", "o", "version", "wrapper", `"use strict"; return {\n${props.join(",\n")}\n};`) as Build;
  return {
    keys,
    build,
    scheme(pairs, fallback) {
      // The last wsgi.url_scheme wins; otherwise HTTPS on/1 means https.
      if (schemeAt >= 0) return pairs[schemeAt];
      for (const at of https) {
        const v = pairs[at].toLowerCase();
        if (v === "on" || v === "1") return "https";
      }
      return fallback;
    },
  };
}

const layouts = new LayoutCache();

/** What `wsgi.file_wrapper` accepts: a file descriptor, or an object with a `read(size)`. */
export type FileLike = number | { read(size: number): Uint8Array | string; close?(): void };

/**
 * `wsgi.file_wrapper(filelike, blksize = 8192)`: an iterable of blocks read from `filelike`,
 * whose `close()` closes it (a numeric descriptor is closed too).
 */
export function fileWrapper(filelike: FileLike, blksize = 8192): FileWrapper {
  return new FileWrapper(filelike, blksize);
}

export class FileWrapper implements Iterable<Uint8Array | string> {
  constructor(
    readonly filelike: FileLike,
    readonly blksize: number,
  ) {}

  *[Symbol.iterator](): Iterator<Uint8Array | string> {
    const f = this.filelike;
    for (;;) {
      let block: Uint8Array | string;
      if (typeof f === "number") {
        const buf = Buffer.allocUnsafe(this.blksize);
        const n = fs.readSync(f, buf, 0, this.blksize, null);
        block = buf.subarray(0, n);
      } else {
        block = f.read(this.blksize);
      }
      if (block.length === 0) return;
      yield block;
    }
  }

  close(): void {
    const f = this.filelike;
    if (typeof f === "number") fs.closeSync(f);
    else if (typeof f.close === "function") f.close();
  }
}
