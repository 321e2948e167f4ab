/**
 * The answer to a request refused by the front end (malformed framing, limits): Apache's
 * canned error page, then the connection is closed.
 */
import type { ResponseSink } from "./types";
import type { Refusal } from "./request-checks";
import { errorPage, ERROR_PAGE_CONTENT_TYPE } from "../static/error-page";

export function sendRefusal(sink: ResponseSink, refusal: Refusal, method: string): void {
  const { reason, html } = errorPage(refusal.status, refusal.expectation === undefined ? { method } : { method, expectation: refusal.expectation });
  const body = Buffer.from(html, "latin1");
  // HEAD: no length, as httpd's error pages (sendErrorPage).
  sink.writeHead(refusal.status, reason, [
    ...(method === "HEAD" ? [] : [["Content-Length", String(body.length)] as const]),
    ["Content-Type", ERROR_PAGE_CONTENT_TYPE],
    ["Connection", "close"],
  ]);
  if (method === "HEAD") sink.end();
  else sink.end(body);
}
