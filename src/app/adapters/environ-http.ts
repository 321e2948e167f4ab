/**
 * Reading an HTTP request back out of a WSGI environ, for the adapters that hand it to
 * fetch handlers and Node listeners.
 */
import type { Environ } from "../environ";

/** What the adapters need of `wsgi.input`: sync reads (ours) or async iteration (any). */
export interface InputLike {
  read?(size?: number): Uint8Array;
  readonly remaining?: number;
  [Symbol.asyncIterator]?(): AsyncIterator<Uint8Array>;
}

export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade"]);

/**
 * Request headers as `[lower-case name, value]` pairs: every `HTTP_*` key (`HTTP_X_FOO` ->
 * `x-foo`) plus `CONTENT_TYPE`/`CONTENT_LENGTH`. Duplicates were already joined with `, ` by
 * the map phase, and header names with `_` never reach the environ (as in mod_wsgi). A body
 * sent chunked has no CONTENT_LENGTH; the collected body's length is given instead, so body
 * parsers that require a length see one.
 */
export function requestHeaders(environ: Environ): [string, string][] {
  const out: [string, string][] = [];
  let hasLength = false;
  for (const key of Object.keys(environ)) {
    const value = environ[key];
    if (typeof value !== "string") continue;
    if (key.startsWith("HTTP_")) {
      if (key === "HTTP_CONTENT_LENGTH" || key === "HTTP_CONTENT_TYPE") continue;
      out.push([key.slice(5).toLowerCase().replace(/_/g, "-"), value]);
    } else if (key === "CONTENT_TYPE") {
      if (value !== "") out.push(["content-type", value]);
    } else if (key === "CONTENT_LENGTH") {
      if (value !== "") {
        out.push(["content-length", value]);
        hasLength = true;
      }
    }
  }
  if (!hasLength) {
    const remaining = inputOf(environ)?.remaining;
    if (typeof remaining === "number" && remaining > 0) out.push(["content-length", String(remaining)]);
  }
  return out;
}

export function inputOf(environ: Environ): InputLike | undefined {
  const input = environ["wsgi.input"];
  return input !== null && typeof input === "object" ? (input as InputLike) : undefined;
}

/** True when the request may have a body worth streaming. */
export function hasBody(environ: Environ): boolean {
  const input = inputOf(environ);
  if (input === undefined) return false;
  if (typeof input.remaining === "number") return input.remaining > 0;
  const len = environ.CONTENT_LENGTH;
  return typeof len === "string" && len !== "" && len !== "0";
}

/** `wsgi.input` as an async iterator of chunks (sync reads of 64 KiB when available). */
export async function* inputChunks(environ: Environ): AsyncGenerator<Uint8Array> {
  const input = inputOf(environ);
  if (input === undefined) return;
  if (typeof input.read === "function") {
    for (let c = input.read(65536); c.length > 0; c = input.read(65536)) yield c;
    return;
  }
  if (typeof input[Symbol.asyncIterator] === "function") yield* input as AsyncIterable<Uint8Array>;
}

// RFC 3986 pchar plus "/": what may stay unescaped in a path.
const PATH_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/;

/**
 * A decoded environ path (SCRIPT_NAME, PATH_INFO) back to its URL form. Environ strings carry
 * one byte per character (latin-1, as mod_wsgi's), so each character is a byte; a string with
 * characters above U+00FF is taken as text and encoded as UTF-8.
 */
export function encodePath(path: string): string {
  if (/^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/.test(path)) return path;
  const bytes = /^[\x00-\xff]*$/.test(path) ? Buffer.from(path, "latin1") : Buffer.from(path, "utf8");
  let out = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += PATH_SAFE.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** The request target relative to the mount: PATH_INFO (or `/`) plus `?QUERY_STRING`. */
export function mountRelativeTarget(environ: Environ): string {
  const pathInfo = typeof environ.PATH_INFO === "string" && environ.PATH_INFO !== "" ? environ.PATH_INFO : "/";
  return encodePath(pathInfo) + queryPart(environ);
}

/** `?QUERY_STRING`, or "" when there is none. */
export function queryPart(environ: Environ): string {
  const q = environ.QUERY_STRING;
  return typeof q === "string" && q !== "" ? "?" + q : "";
}

/** The full request URL: scheme, Host (or SERVER_NAME:SERVER_PORT), SCRIPT_NAME + PATH_INFO, query. */
export function requestUrl(environ: Environ): string {
  const scheme = typeof environ["wsgi.url_scheme"] === "string" ? (environ["wsgi.url_scheme"] as string) : "http";
  let host = typeof environ.HTTP_HOST === "string" && environ.HTTP_HOST !== "" ? environ.HTTP_HOST : "";
  if (host === "") {
    host = String(environ.SERVER_NAME ?? "localhost");
    const port = String(environ.SERVER_PORT ?? "");
    if (port !== "" && port !== (scheme === "https" ? "443" : "80")) host += ":" + port;
  }
  const path = String(environ.SCRIPT_NAME ?? "") + String(environ.PATH_INFO ?? "");
  return `${scheme}://${host}${encodePath(path === "" ? "/" : path)}${queryPart(environ)}`;
}
