/**
 * Request ids, Apache's %L style: 11 characters of base64 over 8 bytes (a per-process random
 * prefix and a counter), unique across the processes of one server and cheap to make. A
 * request gets its id lazily, stored on the request object under a symbol, so the environ
 * (`mod_wsgi.request_id`), the error log lines and the access log (%L) share one id and a
 * request nobody asks about pays nothing.
 */
import { randomBytes } from "node:crypto";

const ID = Symbol("nodewsgi.requestId");
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** The 4 random bytes; the counter is the other 4. */
let prefix = randomBytes(4);
let counter = 0;
/** The id's first 8 characters: bytes 0-5, i.e. the prefix and the counter's high half. */
let head = "";
let headHigh = -1;

/** A fresh id (the counter wraps after 2^32 ids, with a new random prefix). */
export function nextRequestId(): string {
  counter = (counter + 1) >>> 0;
  if (counter === 0) {
    prefix = randomBytes(4);
    headHigh = -1;
  }
  // The base64 of the 8 bytes, written out here: it is made on every request, and only its
  // last 3 characters (the counter's low 16 bits) change from one request to the next.
  const high = counter >>> 16;
  if (high !== headHigh) {
    const b = Buffer.alloc(6);
    prefix.copy(b, 0);
    b.writeUInt16BE(high, 4);
    head = b.toString("base64");
    headHigh = high;
  }
  const c2 = (counter >>> 8) & 255;
  const c3 = counter & 255;
  return head + String.fromCharCode(BASE64.charCodeAt(c2 >>> 2), BASE64.charCodeAt(((c2 & 3) << 4) | (c3 >>> 4)), BASE64.charCodeAt((c3 & 15) << 2));
}

/** The id of this request, made on first use. */
export function requestIdOf(req: object): string {
  const holder = req as { [ID]?: string };
  let id = holder[ID];
  if (id === undefined) {
    id = nextRequestId();
    holder[ID] = id;
  }
  return id;
}

/**
 * The id of this request if something made one (httpd's r->log_id: mod_wsgi makes it for the
 * environ, an error log line about the request makes it), else undefined: the access log's %L.
 */
export function existingRequestId(req: object): string | undefined {
  return (req as { [ID]?: string })[ID];
}

/**
 * The prefix of this request's error log lines: Apache's `[client ADDR:PORT] ` and the
 * request id as ErrorLogFormat's `[R:%L]` shows it, so a line finds its access log entry.
 */
export function requestLogPrefix(req: { readonly remoteAddress: string; readonly remotePort: number }): string {
  const id = requestIdOf(req);
  return req.remoteAddress ? `[client ${req.remoteAddress}:${req.remotePort}] [R:${id}] ` : `[R:${id}] `;
}
