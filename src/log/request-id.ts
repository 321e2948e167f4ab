/**
 * Request ids, Apache's %L style: 11 characters of base64 over 8 bytes (a per-process random
 * prefix and a counter), unique across the processes of one server and cheap to make. A
 * request gets its id lazily, stored on the request object under a symbol, so the environ
 * (`mod_wsgi.request_id`), the error log lines and the access log (%L) share one id and a
 * request nobody asks about pays nothing.
 */
import { randomBytes } from "node:crypto";

const ID = Symbol("nodewsgi.requestId");
const buf = Buffer.alloc(8);
randomBytes(4).copy(buf, 0);
let counter = 0;

/** A fresh id (the counter wraps after 2^32 ids, with a new random prefix). */
export function nextRequestId(): string {
  counter = (counter + 1) >>> 0;
  if (counter === 0) randomBytes(4).copy(buf, 0);
  buf.writeUInt32BE(counter, 4);
  return buf.toString("base64", 0, 8).slice(0, 11);
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
 * The prefix of this request's error log lines: Apache's `[client ADDR:PORT] ` and the
 * request id as ErrorLogFormat's `[R:%L]` shows it, so a line finds its access log entry.
 */
export function requestLogPrefix(req: { readonly remoteAddress: string; readonly remotePort: number }): string {
  const id = requestIdOf(req);
  return req.remoteAddress ? `[client ${req.remoteAddress}:${req.remotePort}] [R:${id}] ` : `[R:${id}] `;
}
