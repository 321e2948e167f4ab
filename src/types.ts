/**
 * The gateway interface as public TypeScript types: what an application script exports and
 * what it is given. Structural on purpose, so an application can type itself without
 * depending on nodewsgi's classes:
 *
 * ```ts
 * import type { Application } from "nodewsgi";
 * export const application: Application = (environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["Hello World!"];
 * };
 * ```
 */

/** `environ["wsgi.input"]`: the request body, read synchronously (WSGI) or iterated async. */
export interface WsgiInput {
  /** Up to `size` bytes; everything left when omitted or negative. Empty at the end. */
  read(size?: number | null): Buffer;
  /** One line including its `\n` (at most `size` bytes); empty at the end. */
  readline(size?: number | null): Buffer;
  /** Lines until about `hint` bytes have been read (all when omitted). */
  readlines(hint?: number | null): Buffer[];
  /** Iteration yields lines, as a Python file does. */
  [Symbol.iterator](): Iterator<Buffer>;
  /** Async iteration yields the unread rest in chunks. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer>;
}

/** `environ["wsgi.errors"]`: line-buffered text into the server's error log. */
export interface WsgiErrors {
  write(data: string | Uint8Array): void;
  writelines(lines: Iterable<string | Uint8Array>): void;
  flush(): void;
}

/** `wsgi.file_wrapper(filelike, blksize?)`: blocks of a file descriptor or `read(size)` object. */
export type FileWrapper = (filelike: number | { read(size: number): Uint8Array | string; close?(): void }, blksize?: number) => Iterable<Uint8Array | string> & { close(): void };

/**
 * The per-request environ: CGI variables as strings (a key absent in mod_wsgi is absent
 * here), `HTTP_*` for each request header, and the `wsgi.*` / `mod_wsgi.*` keys.
 */
export interface Environ {
  REQUEST_METHOD: string;
  /** The mount point (WSGIScriptAlias URL part), "" at the root. */
  SCRIPT_NAME: string;
  /** The rest of the path below the mount point; absent when empty. */
  PATH_INFO?: string;
  QUERY_STRING: string;
  REQUEST_URI?: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  REMOTE_ADDR?: string;
  REMOTE_PORT?: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  HTTP_HOST?: string;
  SCRIPT_FILENAME?: string;
  "wsgi.version": readonly number[];
  "wsgi.url_scheme": string;
  "wsgi.input": WsgiInput;
  "wsgi.errors": WsgiErrors;
  "wsgi.multithread": boolean;
  "wsgi.multiprocess": boolean;
  "wsgi.run_once": boolean;
  "wsgi.input_terminated"?: boolean;
  "wsgi.file_wrapper"?: FileWrapper;
  "mod_wsgi.process_group"?: string;
  "mod_wsgi.application_group"?: string;
  [key: string]: unknown;
}

/** What start_response returns: send a chunk now (await it for backpressure, optionally). */
export type WriteCallable = (data: Uint8Array | string) => Promise<void>;

/** Response headers: `[name, value]` pairs, in order; repeat a name for several values. */
export type ResponseHeaders = ReadonlyArray<readonly [string, string]>;

/**
 * `start_response(status, headers, exc_info?)`: status is `"200 OK"` (three digits, a space,
 * a reason). With `exc_info` it may be called again until the first body byte is sent.
 */
export type StartResponse = (status: string, headers: ResponseHeaders, excInfo?: unknown) => WriteCallable;

/** A response body item: bytes, or a string (sent as UTF-8). */
export type BodyChunk = Uint8Array | string;

/**
 * What an application returns: an iterable or async iterable of chunks (its `close()`, if
 * any, is called when the response ends, even when the client goes away), a single chunk,
 * or a Promise of either.
 */
export type ResponseBody = Iterable<BodyChunk> | AsyncIterable<BodyChunk> | BodyChunk;

/** The gateway interface's callable. */
export type Application = (environ: Environ, startResponse: StartResponse) => ResponseBody | Promise<ResponseBody>;
