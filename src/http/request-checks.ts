/**
 * Checks every front end applies before a request reaches the mapper: the integrity of the
 * message itself (RFC 9112 sections 3 and 6) and Apache's request limits. A request that fails
 * one is answered with the status given and the connection is closed, because after a framing
 * error nothing that follows on the connection can be trusted (CVE-2022-22720).
 */
import { mergedHeaderValue } from "./header-values";

/** Apache's defaults (include/httpd.h): LimitRequestLine, LimitRequestFieldSize, LimitRequestFields. */
export const LIMIT_REQUEST_LINE = 8190;
export const LIMIT_REQUEST_FIELD_SIZE = 8190;
export const LIMIT_REQUEST_FIELDS = 100;

export interface RequestLimits {
  /** Longest request line (`METHOD target HTTP/1.1`), in bytes: beyond it, 414. */
  readonly requestLine: number;
  /** Longest header field line (`name: value`), in bytes: beyond it, 400. */
  readonly fieldSize: number;
  /** Most header fields: beyond it, 400. */
  readonly fields: number;
  /** Largest header block (request line and every field line), in bytes: beyond it, 431. */
  readonly headerBytes: number;
}

export function defaultLimits(headerBytes: number): RequestLimits {
  return { requestLine: LIMIT_REQUEST_LINE, fieldSize: LIMIT_REQUEST_FIELD_SIZE, fields: LIMIT_REQUEST_FIELDS, headerBytes };
}

/** Why a request is refused before it reaches the site. */
export interface Refusal {
  readonly status: number;
  /** For the error log. */
  readonly why: string;
  /** The Expect value a 417 page shows. */
  readonly expectation?: string;
  /**
   * How far httpd reads a request it refuses so, for the access log: "line" refusals come
   * before any header field is read; "fields" ones while reading them (httpd then holds the
   * first `fieldsRead` fields, unmerged); any other, after the whole head.
   */
  readonly stage?: "line" | "fields";
  readonly fieldsRead?: number;
}

/** What httpd refuses in a request target: a fragment, a control character or a space. */
const TARGET_REFUSED = /[\x00-\x20#\x7f]/;

/**
 * Everything wrong with a request's head, or null when it may proceed. `headers` is the
 * front-end flat list (lower-case names). Parsers of both front ends have already refused what
 * they cannot tokenize; this covers what they let through.
 */
export function checkRequestHead(
  method: string,
  target: string,
  protocol: string,
  headers: readonly string[],
  limits: RequestLimits,
): Refusal | null {
  const lineBytes = method.length + 1 + Buffer.byteLength(target, "latin1") + 1 + protocol.length;
  if (lineBytes > limits.requestLine) return { status: 414, why: `request line of ${lineBytes} bytes exceeds ${limits.requestLine}`, stage: "line" };
  if (TARGET_REFUSED.test(target)) {
    // A fragment is the client's business (RFC 9112 3.2): httpd answers a target carrying one 400.
    if (target.includes("#")) return { status: 400, why: "fragment in the request target", stage: "line" };
    // httpd's strict request line takes visible ASCII and bytes beyond it, nothing else (uWS lets DEL through).
    return { status: 400, why: "control character in the request target", stage: "line" };
  }
  const fields = headers.length / 2;
  if (fields > limits.fields) return { status: 400, why: `${fields} header fields exceed ${limits.fields}`, stage: "fields", fieldsRead: limits.fields };
  let total = lineBytes + 2;
  let hosts = 0;
  let lengths = 0;
  let encodings = 0;
  let expects = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    const size = name.length + 2 + Buffer.byteLength(headers[i + 1], "latin1");
    // httpd stores a field once it has seen the next line start: the one before is lost too.
    if (size > limits.fieldSize) return { status: 400, why: `header field ${name} of ${size} bytes exceeds ${limits.fieldSize}`, stage: "fields", fieldsRead: Math.max(0, i / 2 - 1) };
    total += size + 2;
    if (name === "host") hosts++;
    else if (name === "content-length") lengths++;
    else if (name === "transfer-encoding") encodings++;
    else if (name === "expect") expects++;
  }
  if (total > limits.headerBytes) return { status: 431, why: `header block of ${total} bytes exceeds ${limits.headerBytes}`, stage: "fields", fieldsRead: fields };
  if (hosts > 1) return { status: 400, why: "more than one Host header" };
  if (hosts === 0 && protocol === "HTTP/1.1") return { status: 400, why: "HTTP/1.1 request without a Host header" };
  // Apache merges repeated fields into "a, b", which then fails its strict Content-Length
  // parse: any repetition is refused, equal values included.
  if (lengths > 1 || conflictingContentLength(headers)) return { status: 400, why: "repeated Content-Length" };
  if (encodings > 1) return { status: 400, why: "repeated Transfer-Encoding" };
  if (encodings > 0 && lengths > 0) return { status: 400, why: "both Content-Length and Transfer-Encoding (request smuggling)" };
  // A chunked HTTP/1.0 request is served, as httpd 2.4.71 serves it (RFC 9112 6.1 lets a server
  // read it so; the response is not chunked, HTTP/1.0 has no chunked responses).
  const declared = parseDeclaredLength(headers);
  if (declared.invalid) return { status: 400, why: "invalid Content-Length or unsupported Transfer-Encoding" };
  // Most requests carry no Expect: its value is read only when the loop above saw one.
  const expectation = expects > 0 ? unmetExpectation(headers) : null;
  if (expectation !== null) return { status: 417, why: `unrecognized expectation Expect: ${expectation}`, expectation };
  return null;
}

/**
 * The Expect value httpd cannot meet, or null: it knows only `100-continue` (any case), and a
 * repeated field is merged into a list, which it does not know either (ap_read_request: 417,
 * for HTTP/1.0 too).
 */
export function unmetExpectation(headers: readonly string[]): string | null {
  const value = mergedHeaderValue(headers, "expect");
  if (value === undefined || value === "" || value.toLowerCase() === "100-continue") return null;
  return value;
}

/** The request asks for `100 Continue` before it sends its body (HTTP/1.1 only, as httpd). */
export function expectsContinue(protocol: string, headers: readonly string[]): boolean {
  if (protocol !== "HTTP/1.1") return false;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === "expect") return headers[i + 1].toLowerCase() === "100-continue";
  return false;
}

/** True when Content-Length holds a list or two different values (a request-smuggling vector). */
export function conflictingContentLength(headers: readonly string[]): boolean {
  let seen: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== "content-length") continue;
    const v = headers[i + 1];
    if (v.includes(",")) return true;
    if (seen === undefined) seen = v.trim();
    else if (v.trim() !== seen) return true;
  }
  return false;
}

export interface DeclaredLength {
  /** Content-Length as a number, or -1 when absent or chunked. */
  readonly length: number;
  readonly chunked: boolean;
  /** Content-Length that is not a non-negative decimal integer, or an unknown transfer coding. */
  readonly invalid: boolean;
}

export function parseDeclaredLength(headers: readonly string[]): DeclaredLength {
  let length = -1;
  let chunked = false;
  let invalid = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name === "content-length") {
      const v = headers[i + 1].trim();
      if (!/^\d{1,15}$/.test(v)) invalid = true;
      else length = Number(v);
    } else if (name === "transfer-encoding") {
      // Only "chunked" alone is supported; Apache answers 400 when the final coding is not
      // chunked, and a coding before it would reach the application still encoded.
      if (headers[i + 1].trim().toLowerCase() === "chunked") chunked = true;
      else invalid = true;
    }
  }
  // Transfer-Encoding overrides Content-Length (RFC 9112 6.3).
  if (chunked) length = -1;
  return { length, chunked, invalid };
}

/**
 * An absolute-form target (`http://host:port/path?q`) as Apache maps it: the origin-form
 * path and query, and the authority that replaces Host (RFC 9112 3.2.2). Null when `target`
 * is not absolute-form or is malformed.
 */
export function splitAbsoluteForm(target: string): { target: string; authority: string } | null {
  const m = /^https?:\/\/([^/?#\s]+)([^#\s]*)$/i.exec(target);
  if (!m) return null;
  const authority = m[1];
  if (authority.includes("@")) return null;
  const rest = m[2];
  return { authority, target: rest === "" ? "/" : rest.startsWith("?") ? `/${rest}` : rest };
}

/**
 * Bodies up to this size are discarded rather than cutting the connection when a request is
 * refused before its body is read (413, 411): the front end skips them cheaply and the client
 * keeps its connection. Larger or unknown-length bodies close the connection, as Apache does,
 * so nobody can make the server swallow gigabytes it has already refused.
 */
export const DISCARDABLE_BODY_BYTES = 1 << 20;

/** The extra response headers for refusing a request whose body was not read. */
export function refusalHeaders(declaredLength: number, chunked: boolean): readonly (readonly [string, string])[] {
  return !chunked && declaredLength >= 0 && declaredLength <= DISCARDABLE_BODY_BYTES ? [] : CLOSE_CONNECTION;
}

/** The header that makes a front end close the connection after the response. */
export const CLOSE_CONNECTION: readonly (readonly [string, string])[] = [["Connection", "close"]];
