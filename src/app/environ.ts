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

const WSGI_VERSION = Object.freeze([1, 0]) as readonly number[];

export function buildEnviron(pairs: readonly string[], opts: EnvironOptions): Environ {
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
  if (opts.extra) Object.assign(env, opts.extra);
  return env;
}

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
