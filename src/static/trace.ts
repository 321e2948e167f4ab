/**
 * The TRACE method as httpd answers it (ap_send_http_trace, TraceEnable On|extended): 200 with
 * the request message echoed as `message/http`, sent chunked (no Content-Length), as httpd.
 *
 * The front ends hand over a parsed request, not its bytes, so the message is rebuilt: the
 * request line as received, then each header field once, in order of first arrival, with
 * repeated fields joined by `, ` (httpd's headers_in table does the same), then an empty line.
 * Differences from httpd: header names come out lower-case, and folded or oddly spaced values
 * come out normalised.
 */
import type { IncomingRequest, ResponseSink } from "../http/types";
import { refusalHeaders } from "../http/request-checks";
import { sendErrorPage } from "./error-page";

/** httpd refuses an extended TRACE body larger than this (64 KiB). */
export const MAX_TRACE_BODY = 65536;

/** The echoed message head: request line, merged header fields, empty line. */
export function traceMessage(req: Pick<IncomingRequest, "method" | "target" | "protocol" | "headers">): string {
  const fields = new Map<string, string>();
  const h = req.headers;
  for (let i = 0; i + 1 < h.length; i += 2) {
    const prev = fields.get(h[i]);
    fields.set(h[i], prev === undefined ? h[i + 1] : `${prev}, ${h[i + 1]}`);
  }
  let out = `${req.method} ${req.target} ${req.protocol}\r\n`;
  for (const [name, value] of fields) out += `${name}: ${value}\r\n`;
  return out + "\r\n";
}

/**
 * Answer a TRACE. A request body is refused with 413 unless `extended` (then it is echoed
 * after the head, up to MAX_TRACE_BODY bytes).
 */
export function sendTrace(req: IncomingRequest, sink: ResponseSink, extended: boolean, signature = ""): void {
  const body = req.body;
  const hasBody = body.chunked || body.declaredLength > 0;
  // Unread body: refusalHeaders closes the connection unless what is left is small.
  const refuse = (midBody = false) =>
    sendErrorPage(sink, 413, { method: req.method, signature }, midBody ? refusalHeaders(-1, true) : refusalHeaders(body.declaredLength, body.chunked));
  const head = Buffer.from(traceMessage(req), "latin1");
  const send = (payload: Buffer) => {
    if (sink.aborted) return;
    sink.writeHead(200, "OK", [["Content-Type", "message/http"]]);
    sink.end(payload);
  };
  if (!hasBody) return send(head);
  if (!extended || body.declaredLength > MAX_TRACE_BODY) return refuse();
  const chunks: Buffer[] = [head];
  let size = 0;
  let done = false;
  body.start((chunk, last) => {
    if (done) return;
    size += chunk.length;
    if (size > MAX_TRACE_BODY) {
      done = true;
      body.pause();
      refuse(true);
      return;
    }
    chunks.push(Buffer.from(chunk));
    if (last) {
      done = true;
      send(Buffer.concat(chunks));
    }
  });
}
