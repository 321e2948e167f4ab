/**
 * The answer to a request refused by the front end (malformed framing, limits): Apache's
 * canned error page, then the connection is closed.
 */
import type { HeaderPair, ResponseSink } from "./types";
import type { Refusal } from "./request-checks";
import { errorPage, errorPageHead } from "../static/error-page";

/** The response a refusal gets, kept for the access log. */
export interface RefusalResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly HeaderPair[];
  /** Null for HEAD. */
  readonly body: Buffer | null;
}

export function refusalResponse(refusal: Refusal, method: string): RefusalResponse {
  const { reason, html } = errorPage(refusal.status, refusal.expectation === undefined ? { method } : { method, expectation: refusal.expectation });
  const body = method === "HEAD" ? null : Buffer.from(html, "latin1");
  // The connection is closed after it, whatever the status: nothing after a refused head can be trusted.
  return { status: refusal.status, reason, headers: errorPageHead(refusal.status, [], body === null ? null : body.length, true), body };
}

export function sendRefusal(sink: ResponseSink, response: RefusalResponse): void {
  sink.writeHead(response.status, response.reason, response.headers);
  if (response.body === null) sink.end();
  else sink.end(response.body);
}
