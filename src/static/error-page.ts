/**
 * Apache's canned error documents (`ap_send_error_response` and `get_canned_error_string` in
 * modules/http/http_protocol.c), byte for byte as Apache 2.4.71 (Debian) sends them:
 * HTML 4.01 doctype, `<title>CODE Reason</title>`, `<h1>Reason</h1>`, the canned text, then
 * the ServerSignature footer when one is given.
 */
import type { HeaderPair, ResponseSink } from "../http/types";
import { writeErrorHead } from "../http/write-head";
import { wrapSink } from "../http/sink-wrapper";
import { reasonPhrase } from "./status";

export interface ErrorPageContext {
  /** Request method, echoed (escaped) by 405, 411, 413 and 501. */
  method?: string;
  /** Redirect target for 3xx pages. */
  location?: string;
  /** ServerAdmin, shown by 500 ("[no address given]" when unset, as Apache). */
  serverAdmin?: string;
  /** Apache's `error-notes`: extra text some pages append (400, 403, 411, 414, 501, 502). */
  errorNotes?: string;
  /** ServerSignature's footer (`<hr>\n<address>...</address>\n`), "" or absent when Off. */
  signature?: string;
  /** mod_negotiation's `variant-list` note, shown by 406 and 300. */
  variantList?: string;
  /** The Expect value a 417 page quotes. */
  expectation?: string;
}

export interface ErrorPage {
  reason: string;
  html: string;
}

/** The content type Apache gives its own error documents. */
export const ERROR_PAGE_CONTENT_TYPE = "text/html; charset=iso-8859-1";

/** The methods Apache's default handler lists in `Allow` (make_allow, TraceEnable on). */
export const STATIC_ALLOW = "GET,POST,OPTIONS,HEAD,TRACE";

const DOCTYPE = '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n';

/** ap_escape_html: `<`, `>`, `&`, `"` (not `'`). */
export function escapeHtml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "&" ? "&amp;" : "&quot;"));
}

function withNotes(prefix: string, notes: string | undefined, suffix: string): string {
  return prefix + (notes ?? "") + suffix;
}

function cannedText(status: number, ctx: ErrorPageContext): string {
  const method = escapeHtml(ctx.method ?? "GET");
  switch (status) {
    case 300:
      return ctx.variantList ?? "";
    case 301: case 302: case 307: case 308:
      return `<p>The document has moved <a href="${escapeHtml(ctx.location ?? "")}">here</a>.</p>\n`;
    case 303:
      return `<p>The answer to your request is located <a href="${escapeHtml(ctx.location ?? "")}">here</a>.</p>\n`;
    case 401: case 407:
      return "<p>This server could not verify that you\nare authorized to access the document\nrequested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\nbrowser doesn't understand how to supply\nthe credentials required.</p>\n";
    case 400:
      return withNotes("<p>Your browser sent a request that this server could not understand.<br />\n", ctx.errorNotes, "</p>\n");
    case 403:
      return withNotes("<p>You don't have permission to access this resource.", ctx.errorNotes, "</p>\n");
    case 404:
      return "<p>The requested URL was not found on this server.</p>\n";
    case 405:
      return `<p>The requested method ${method} is not allowed for this URL.</p>\n`;
    case 406:
      return "<p>An appropriate representation of the requested resource could not be found on this server.</p>\n" + (ctx.variantList ?? "");
    case 408:
      return "<p>Server timeout waiting for the HTTP request from the client.</p>\n";
    case 410:
      return "<p>The requested resource is no longer available on this server and there is no forwarding address.\nPlease remove all references to this resource.</p>\n";
    case 411:
      return withNotes(`<p>A request of the requested method ${method} requires a valid Content-length.<br />\n`, ctx.errorNotes, "</p>\n");
    case 412:
      return "<p>The precondition on the request for this URL evaluated to false.</p>\n";
    case 413:
      return `The requested resource does not allow request data with ${method} requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n`;
    case 414:
      return withNotes("<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n", ctx.errorNotes, "</p>\n");
    case 415:
      return "<p>The supplied request data is not in a format\nacceptable for processing by this resource.</p>\n";
    case 416:
      return "<p>None of the range-specifier values in the Range\nrequest-header field overlap the current extent\nof the selected resource.</p>\n";
    case 417:
      return (
        (ctx.expectation !== undefined
          ? `<p>The expectation given in the Expect request-header\nfield could not be met by this server.\nThe client sent<pre>\n    Expect: ${escapeHtml(ctx.expectation)}\n</pre>\n`
          : "<p>No expectation was seen, the Expect request-header \nfield was not presented by the client.\n") +
        (ctx.errorNotes ?? "") +
        "</p><p>Only the 100-continue expectation is supported.</p>\n"
      );
    case 431:
      return "<p>The server refused this request because\nthe request header fields are too large.</p>\n";
    case 506:
      return "<p>A variant for the requested resource\n<pre>\n\n</pre>\nis itself a negotiable resource. This indicates a configuration error.</p>\n";
    case 501:
      return withNotes(`<p>${method} not supported for current URL.<br />\n`, ctx.errorNotes, "</p>\n");
    case 502:
      return withNotes("<p>The proxy server received an invalid\r\nresponse from an upstream server.<br />\r\n", ctx.errorNotes, "</p>\n");
    case 503:
      return "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n";
    case 504:
      return "<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n";
    default:
      return (
        "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n" +
        `<p>Please contact the server administrator at \n ${escapeHtml(ctx.serverAdmin ?? "[no address given]")} to inform them of the time this error occurred,\n` +
        " and the actions you performed just before this error.</p>\n" +
        "<p>More information about this error may be available\nin the server error log.</p>\n"
      );
  }
}

/** Apache's default error document for `status`. */
export function errorPage(status: number, ctx: ErrorPageContext = {}): ErrorPage {
  const reason = reasonPhrase(status);
  const html =
    DOCTYPE +
    `<html><head>\n<title>${status} ${reason}</title>\n</head><body>\n<h1>${reason}</h1>\n` +
    cannedText(status, ctx) +
    (ctx.signature ?? "") +
    "</body></html>\n";
  return { reason, html };
}

/**
 * Encoded pages by what they depend on. A refusal under load (413, 503) repeats the same page
 * thousands of times a second: build and encode it once. Pages naming a location or carrying
 * error notes are built each time; the cache is bounded.
 */
const pageCache = new Map<string, { reason: string; body: Buffer }>();
const PAGE_CACHE_MAX = 256;

function encodedPage(status: number, ctx: ErrorPageContext): { reason: string; body: Buffer } {
  const cacheable = ctx.location === undefined && ctx.errorNotes === undefined && ctx.variantList === undefined && ctx.expectation === undefined;
  const key = cacheable ? `${status}\0${ctx.method ?? ""}\0${ctx.serverAdmin ?? ""}\0${ctx.signature ?? ""}` : "";
  if (cacheable) {
    const hit = pageCache.get(key);
    if (hit !== undefined) return hit;
  }
  const { reason, html } = errorPage(status, ctx);
  const page = { reason, body: Buffer.from(html, "latin1") };
  if (cacheable) {
    if (pageCache.size >= PAGE_CACHE_MAX) pageCache.clear();
    pageCache.set(key, page);
  }
  return page;
}

/**
 * Statuses after which httpd closes the connection whatever the client asked, whoever answered
 * (ap_status_drops_connection): the request may have left it in an unknown state.
 */
const CLOSING_STATUSES = new Set([400, 408, 411, 413, 414, 500, 501, 503]);

/**
 * `headers` plus `Connection: close` when httpd would close the connection after `status`, in a
 * response the server itself (`by` "server") or an application made. The server's own 413 is the
 * exception: a refused body is skipped unread and costs the connection only when it is large
 * (refusalHeaders in src/http/request-checks.ts).
 */
export function withClosingHeader(status: number, headers: readonly HeaderPair[], by: "server" | "application" = "server"): readonly HeaderPair[] {
  if (!dropsConnection(status, by) || hasConnectionHeader(headers)) return headers;
  return [...headers, ["Connection", "close"]];
}

function dropsConnection(status: number, by: "server" | "application"): boolean {
  return CLOSING_STATUSES.has(status) && !(by === "server" && status === 413);
}

function hasConnectionHeader(headers: readonly HeaderPair[]): boolean {
  return headers.some(([n]) => n.length === 10 && n.toLowerCase() === "connection");
}

/**
 * The head of one of the server's own HTML pages (a canned error page, an ErrorDocument
 * message, a refusal), in the order ap_send_error_response's answer has it: `extraHeaders`
 * (Location, WWW-Authenticate, Allow, ...), Content-Length (`bodyLength` null for HEAD, whose
 * page httpd never makes), `Connection: close` where httpd closes after `status` (or always,
 * with `close`: a request refused before it was read whole), then the page's content type.
 */
export function errorPageHead(status: number, extraHeaders: readonly HeaderPair[], bodyLength: number | null, close = false): HeaderPair[] {
  const headers: HeaderPair[] = [...extraHeaders];
  if (bodyLength !== null) headers.push(["Content-Length", String(bodyLength)]);
  if ((close || dropsConnection(status, "server")) && !hasConnectionHeader(extraHeaders)) headers.push(["Connection", "close"]);
  headers.push(["Content-Type", ERROR_PAGE_CONTENT_TYPE]);
  return headers;
}

/**
 * Write Apache's error response: the canned page with errorPageHead's head, `Allow` on
 * 405/501 (unless `extraHeaders` has one) after `extraHeaders` (WWW-Authenticate, Location,
 * ...). HEAD gets the head only, without Content-Length, as from Apache.
 */
export function sendErrorPage(
  sink: ResponseSink,
  status: number,
  ctx: ErrorPageContext = {},
  extraHeaders: readonly HeaderPair[] = [],
): void {
  const { reason, body } = encodedPage(status, ctx);
  const extra = (status === 405 || status === 501) && !extraHeaders.some(([n]) => n.toLowerCase() === "allow") ? [...extraHeaders, ["Allow", STATIC_ALLOW] as const] : extraHeaders;
  const head = ctx.method === "HEAD";
  writeErrorHead(sink, status, reason, errorPageHead(status, extra, head ? null : body.length));
  if (head) sink.end();
  else sink.end(body);
}

/**
 * The server's own error answer to a request an application was to serve: the sink's
 * ErrorDocument when it has one for `status` (ResponseSink.serverError), else the canned page.
 */
export function sendServerErrorPage(sink: ResponseSink, status: number, ctx: ErrorPageContext = {}, extraHeaders: readonly HeaderPair[] = []): void {
  if (sink.serverError?.(status, extraHeaders)) return;
  sendErrorPage(sink, status, ctx, extraHeaders);
}

/**
 * A sink whose server error pages (ResponseSink.serverError) go to `answer`, which sends its
 * own response and returns true, or returns false to let the canned page through.
 */
export function withServerErrors(sink: ResponseSink, answer: (status: number, headers: readonly HeaderPair[]) => boolean): ResponseSink {
  return wrapSink(sink, { serverError: answer });
}

/** A server error page's headers without its own framing: what an ErrorDocument keeps of them. */
export function pageExtraHeaders(headers: readonly HeaderPair[]): HeaderPair[] {
  return headers.filter(([n]) => {
    const name = n.toLowerCase();
    return name !== "content-type" && name !== "content-length";
  });
}

/**
 * A sink that sends `status` instead of whatever status its writer chooses, with
 * `extraHeaders` first: an ErrorDocument page served by the default handler keeps the
 * error's status, as after Apache's internal redirect from ap_die.
 */
export function withErrorStatus(sink: ResponseSink, status: number, extraHeaders: readonly HeaderPair[]): ResponseSink {
  return wrapSink(sink, {
    writeHead: (_status, _reason, headers) => sink.writeHead(status, reasonPhrase(status), [...extraHeaders, ...headers]),
    // The default handler's own error pages stay marked as the server's (Header always only).
    writeErrorHead: (_status, _reason, headers) => writeErrorHead(sink, status, reasonPhrase(status), [...extraHeaders, ...headers]),
  });
}
