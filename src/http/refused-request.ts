/**
 * A request a front end refused before the site saw it (a malformed head, a limit, a framing
 * that smells of smuggling), described as httpd knows it when it logs one: the request line
 * as read (r->the_request), the fields read until the refusal, and the virtual host of the
 * address, not of the Host header (which httpd has not looked at yet, 417 aside).
 */
import type { IncomingRequest, RequestBody } from "./types";
import type { Refusal } from "./request-checks";
import type { RefusalResponse } from "./refusal";

export interface RefusedRequest {
  /** What was read: method, target and protocol ("" when not understood), fields. */
  readonly req: IncomingRequest;
  /** The request line as received (%r), cut at LimitRequestLine. */
  readonly requestLine: string;
  readonly response: RefusalResponse;
  /** httpd had read and checked the whole head, so Host chose the virtual host (417). */
  readonly hostKnown: boolean;
  /** When it was refused, ms since the epoch. */
  readonly time: number;
}

/** Told of every refused request (the access log); must not throw. */
export type RefusalListener = (refused: RefusedRequest) => void;

export interface Peer {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

const EMPTY = new Uint8Array(0);
/** A refused request's body is never read. */
const UNREAD_BODY: RequestBody = {
  declaredLength: -1,
  chunked: false,
  start: (onChunk) => onChunk(EMPTY, true),
  pause: () => undefined,
  resume: () => undefined,
};

/** A request refused by checkRequestHead: its parts as the front end copied them. */
export function refusedByCheck(
  method: string,
  target: string,
  protocol: string,
  headers: readonly string[],
  refusal: Refusal,
  response: RefusalResponse,
  peer: Peer,
  lineLimit: number,
): RefusedRequest {
  const requestLine = `${method} ${target} ${protocol}`;
  if (refusal.stage === "line") {
    // httpd refuses these while parsing the request line: no field is read; an overlong line
    // leaves method and URL unknown (%m and %U log "-").
    if (refusal.status === 414) return record(requestLine.slice(0, lineLimit), "", "", "HTTP/1.0", [], response, peer, false);
    const hash = target.indexOf("#");
    return record(requestLine, method, hash < 0 ? target : target.slice(0, hash), protocol, [], response, peer, false);
  }
  const fields = refusal.stage === "fields" ? firstValues(headers, refusal.fieldsRead ?? 0) : headers;
  return record(requestLine, method, target, protocol, fields, response, peer, refusal.status === 417);
}

/**
 * A request node's parser refused, from the bytes it had (`rawPacket`): the request line and
 * the well-formed fields before the first malformed line. A line that is not
 * `METHOD target HTTP/x.y` is refused before any field is read; a lone word is taken as
 * httpd does (an HTTP/1.0 request for "/").
 */
export function refusedByParser(raw: Buffer | undefined, response: RefusalResponse, peer: Peer, lineLimit: number): RefusedRequest {
  const text = raw === undefined ? "" : raw.toString("latin1");
  let eol = text.indexOf("\n");
  if (eol < 0) eol = text.length;
  const line = text.slice(0, eol).replace(/\r$/, "");
  const time = Date.now();
  if (line.length > lineLimit) return record(line.slice(0, lineLimit), "", "", "HTTP/1.0", [], response, peer, false, time);
  const parts = line.split(" ");
  const method = parts[0] ?? "";
  const target = parts.length > 1 ? parts[1] : "/";
  const protocol = parts.length > 2 ? parts[2] : "HTTP/1.0";
  if (!WELL_FORMED_LINE.test(line)) return record(line, method, target, protocol, [], response, peer, false, time);
  const fields: string[] = [];
  let complete = false;
  let at = eol + 1;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end < 0) break; // cut off: the rest was not read
    const field = text.slice(at, end).replace(/\r$/, "");
    at = end + 1;
    if (field === "") {
      complete = true;
      break;
    }
    const m = FIELD.exec(field);
    if (m === null) break;
    fields.push(m[1].toLowerCase(), m[2].trim());
  }
  // Refused after the whole head was read (framing, smuggling): fields merge as usual.
  return record(line, method, target, protocol, complete ? fields : firstValues(fields, fields.length / 2), response, peer, false, time);
}

const WELL_FORMED_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e\x80-\xff]+ HTTP\/\d\.\d$/;
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):([\t\x20-\x7e\x80-\xff]*)$/;

/** The first `count` fields, each name's first value only: httpd merges repeats at the end of the head. */
function firstValues(headers: readonly string[], count: number): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count * 2 && i < headers.length; i += 2) {
    if (seen.has(headers[i])) continue;
    seen.add(headers[i]);
    out.push(headers[i], headers[i + 1]);
  }
  return out;
}

function record(
  requestLine: string,
  method: string,
  target: string,
  protocol: string,
  headers: readonly string[],
  response: RefusalResponse,
  peer: Peer,
  hostKnown: boolean,
  time = Date.now(),
): RefusedRequest {
  const req: IncomingRequest = {
    method,
    target,
    protocol,
    headers,
    remoteAddress: peer.remoteAddress,
    remotePort: peer.remotePort,
    localAddress: peer.localAddress,
    localPort: peer.localPort,
    scheme: "http",
    body: UNREAD_BODY,
  };
  return { req, requestLine, response, hostKnown, time };
}
