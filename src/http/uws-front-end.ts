/**
 * The uWebSockets.js front end. All of the uWS contract lives in this file:
 *
 * - nothing touches `res` after `onAborted` fires or the response ended;
 * - everything needed from `req` is copied before the handler returns (uWS reuses it);
 * - `onData` is attached synchronously when a body is expected (uWS drops body bytes that
 *   arrive while no handler is attached), and chunks are buffered until the consumer starts;
 * - every write happens corked: inside the request handler (uWS corks it) or `res.cork()`;
 * - `onAborted` is attached before the handler returns unless the response already ended;
 * - backpressure: bodies of known length go through `tryEnd` + `onWritable`, others through
 *   `write` + `onWritable`;
 * - one catch-all route (`any /*`): routing is the mapper's job, not uWS's.
 *
 * Known limits of the uWS 20.30 binary, asserted by test/http-robustness.test.js and
 * documented in docs/front-ends.md: HTTP/1.0 requests, absolute-form targets, header names
 * containing `_` and most malformed heads get no response (the connection is left to uWS's
 * ~10 s idle timeout); a request pipelined behind a pending response makes uWS close the
 * connection; an empty query (`/a?`) is indistinguishable from none; the client's port is not
 * exposed. `NODEWSGI_FRONTEND=node` selects the node:http front end, which has none of these.
 */
import * as path from "node:path";
import { DEFAULT_SEND_TIMEOUT_MS, sendTimedOutLine, type ConnectionPolicy, type FrontEnd, type FrontEndOptions, type ListenAddress, type RequestHandler } from "./front-end";
import type { AbortCause, HeaderPair, IncomingRequest, RequestBody, ResponseSink, SentListener } from "./types";
import { NodewsgiError } from "../errors";
import { checkRequestHead, defaultLimits, parseDeclaredLength, type RequestLimits } from "./request-checks";
import { refusalResponse, sendRefusal } from "./refusal";
import { refusedByCheck, type RefusalListener } from "./refused-request";
import { addressText } from "./address-text";
import type { ErrorLog } from "../log/error-log";

/* The subset of the uWS.js API this file uses, typed locally so the rest of the code never
 * depends on uWS types. */
interface UwsResponse {
  onAborted(cb: () => void): UwsResponse;
  onData(cb: (chunk: ArrayBuffer, isLast: boolean) => void): UwsResponse;
  onWritable(cb: (offset: number) => boolean): UwsResponse;
  cork(cb: () => void): UwsResponse;
  writeStatus(status: string | Uint8Array): UwsResponse;
  writeHeader(name: string, value: string): UwsResponse;
  write(chunk: Uint8Array | string): boolean;
  end(chunk?: Uint8Array | string, closeConnection?: boolean): UwsResponse;
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): UwsResponse;
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean];
  getWriteOffset(): number;
  getRemoteAddress(): ArrayBuffer;
  pause(): void;
  resume(): void;
  close(): UwsResponse;
}
interface UwsRequest {
  getCaseSensitiveMethod(): string;
  getUrl(): string;
  getQuery(): string | undefined;
  forEach(cb: (name: string, value: string) => void): void;
}
interface UwsApp {
  any(pattern: string, handler: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  listen(host: string, port: number, cb: (socket: unknown) => void): UwsApp;
  /** Close the listen sockets and every connection of this app. */
  close(): void;
}
interface UwsModule {
  App(): UwsApp;
  us_listen_socket_close(socket: unknown): void;
  us_socket_local_port(socket: unknown): number;
}

let cached: UwsModule | undefined;

/**
 * Load the uWS binary directly rather than through the package's entry point, which silently
 * swaps in a slow pure-JS imitation when the binary does not load: we would rather know, and
 * use our own node:http front end instead.
 */
export function loadUws(maxHeaderBytes: number): UwsModule {
  if (cached) return cached;
  // uWS reads this once, when the binary loads.
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= String(maxHeaderBytes);
  let dir: string;
  try {
    dir = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
  } catch (err) {
    throw new NodewsgiError("E_UWS_UNAVAILABLE", "the uWebSockets.js package is not installed", { cause: err });
  }
  const binary = path.join(dir, "binaries", `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(binary) as UwsModule;
  } catch (err) {
    throw new NodewsgiError("E_UWS_UNAVAILABLE", `cannot load ${binary}: ${(err as Error).message}`, { cause: err });
  }
  return cached;
}

const EMPTY = new Uint8Array(0);
/** Characters that must never reach the wire inside a header line. */
const UNSAFE_HEADER = /[\r\n\0]/;
/** Anything but tab and printable ASCII: rare in a response head, and then looked at closely. */
const NOT_PLAIN = /[^\t\x20-\x7e]/;
const NOT_ASCII = /[^\x00-\x7f]/;
const BEYOND_LATIN1 = /[^\x00-\xff]/;
const CONNECTION_CLOSE = /(^|,)\s*close\s*(,|$)/i;
/** uWS's HTTP idle timeout (HTTP_IDLE_TIMEOUT_S in its HttpContext), fixed at build time. */
const UWS_IDLE_TIMEOUT_S = 10;

/**
 * The body of a request without one (most requests): nothing to buffer, pause or resume, so
 * one shared, stateless object instead of an onData handler and a queue per request.
 */
class NoBody implements RequestBody {
  constructor(readonly declaredLength: number) {}
  readonly chunked = false;
  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void {
    onChunk(EMPTY, true);
  }
  pause(): void {}
  resume(): void {}
}
/** No Content-Length and no Transfer-Encoding. */
const NO_BODY = new NoBody(-1);
/** `Content-Length: 0`. */
const EMPTY_BODY = new NoBody(0);

export class UwsFrontEnd implements FrontEnd {
  readonly kind = "uws" as const;
  private readonly uws: UwsModule;
  private readonly app: UwsApp;
  private readonly sockets: unknown[] = [];
  /**
   * uWS does not say which listener a request came in on: with one Listen it is that one;
   * with several, SERVER_ADDR/listener port are unknown (docs/front-ends.md).
   */
  private localAddress = "";
  private localPort = 0;
  private active = 0;
  /** Inside uWS's request handler, where writes are corked by uWS itself. */
  private inHandler = false;
  private isDraining = false;
  private closed = false;
  private readonly limits: RequestLimits;
  private readonly onRefusal: RefusalListener | undefined;
  serverHeader = "";
  /** KeepAlive Off: every response closes its connection. */
  private keepAliveOff = false;
  /**
   * Timeout (the main server's): a response the client takes nothing of for this long is cut
   * (0: never). uWS's own idle timeout (UWS_IDLE_TIMEOUT_S) also runs while a write waits, so
   * a longer one is cut after about that long all the same.
   */
  sendTimeoutMs = DEFAULT_SEND_TIMEOUT_MS;
  readonly errorLog: ErrorLog | undefined;

  constructor(handler: RequestHandler, options: FrontEndOptions) {
    this.limits = options.limits ?? defaultLimits(options.maxHeaderBytes);
    this.onRefusal = options.onRefusal;
    this.errorLog = options.errorLog;
    this.uws = loadUws(this.limits.headerBytes);
    this.app = this.uws.App();
    this.app.any("/*", (res, req) => this.accept(res, req, handler));
  }

  get inFlight(): number {
    return this.active;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /** uWS exposes no idle connections: once nothing is in flight, close them all at once. */
  set draining(on: boolean) {
    this.isDraining = on;
    this.closeLeftovers();
  }

  private closeLeftovers(): void {
    if (!this.isDraining || this.active > 0 || this.closed) return;
    this.closed = true;
    this.sockets.length = 0;
    // Not from inside a uWS callback: closing the app there would pull sockets from under it.
    setImmediate(() => this.app.close());
  }

  listen(host: string, port: number): Promise<ListenAddress> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) {
          reject(new NodewsgiError("E_LISTEN", `could not bind to ${host}:${port} (address in use or not available)`));
          return;
        }
        this.sockets.push(socket);
        const bound = this.uws.us_socket_local_port(socket);
        if (this.sockets.length === 1) {
          this.localAddress = host === "0.0.0.0" || host === "::" ? "" : host;
          this.localPort = bound;
        } else {
          this.localAddress = "";
          this.localPort = 0;
        }
        resolve({ host, port: bound });
      });
    });
  }

  stopListening(): void {
    for (const s of this.sockets.splice(0)) this.uws.us_listen_socket_close(s);
  }

  setConnectionPolicy(policy: ConnectionPolicy): string[] {
    this.keepAliveOff = !policy.enabled;
    this.sendTimeoutMs = policy.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
    // uWS.js has its idle timeout compiled in and no per-connection hook to count requests on.
    const unsupported: string[] = [];
    if (policy.timeoutMs !== undefined) unsupported.push(`KeepAliveTimeout is not applied by the uWS front end (it keeps idle connections ${UWS_IDLE_TIMEOUT_S} s); NODEWSGI_FRONTEND=node applies it`);
    if (policy.maxRequests !== undefined) unsupported.push("MaxKeepAliveRequests is not applied by the uWS front end (it cannot count a connection's requests); NODEWSGI_FRONTEND=node applies it");
    return unsupported;
  }

  private accept(res: UwsResponse, req: UwsRequest, handler: RequestHandler): void {
    const sink = new UwsSink(res, this);
    this.active++;
    this.inHandler = true;
    try {
      this.begin(res, req, sink, handler);
    } finally {
      this.inHandler = false;
      // A response that ended inside the handler (an in-thread application that answered at
      // once) needs no abort handler; any other must have one before the handler returns.
      if (!sink.released) sink.watchAbort();
    }
  }

  private begin(res: UwsResponse, req: UwsRequest, sink: UwsSink, handler: RequestHandler): void {
    const headers: string[] = [];
    req.forEach((name, value) => {
      headers.push(name, value);
    });
    const method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const query = req.getQuery();
    let target = query ? `${url}?${query}` : url;
    // uWS decodes the target as UTF-8; the server takes it as bytes in latin-1 text, as Apache
    // and node:http do. Valid UTF-8 converts back exactly (bytes that were not valid UTF-8
    // arrive as U+FFFD and stay lost: docs/front-ends.md).
    if (NOT_ASCII.test(target)) target = Buffer.from(target, "utf8").toString("latin1");

    // uWS's parser lets through repeated Content-Length, two Host headers, oversized header
    // blocks that arrive in one read, and long request lines: refuse those and close.
    const refusal = checkRequestHead(method, target, "HTTP/1.1", headers, this.limits);
    if (refusal) {
      sink.closeAfter = true;
      // Not now: uWS closes only after parsing everything else in this read, and would run a
      // request pipelined (smuggled) behind this one. Left pending, the response makes uWS
      // drop the connection the moment it sees a further request; when none follows, the
      // refusal goes out on the next turn.
      const response = refusalResponse(refusal, method);
      setImmediate(() => {
        if (!sink.aborted) sendRefusal(sink, response);
      });
      if (this.onRefusal) {
        const peer = { remoteAddress: remoteAddress(res), remotePort: 0, localAddress: this.localAddress, localPort: this.localPort };
        this.onRefusal(refusedByCheck(method, target, "HTTP/1.1", headers, refusal, response, peer, this.limits.requestLine));
      }
      return;
    }
    let framed = false;
    if (this.keepAliveOff) sink.closeAfter = true;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name === "content-length" || name === "transfer-encoding") framed = true;
      // uWS closes after a response when the client asked for it, but says so in the head only
      // for `end(body, true)`: closeAfter makes every path say it.
      else if (name === "connection" && CONNECTION_CLOSE.test(headers[i + 1])) sink.closeAfter = true;
    }
    let body: RequestBody = NO_BODY;
    if (framed) {
      const declared = parseDeclaredLength(headers);
      if (declared.length > 0 || declared.chunked) body = new UwsBody(res, declared.length, declared.chunked, sink);
      if (declared.chunked) {
        // uWS frames some chunk-size lines differently from a proxy (UwsBody.deferEnd): the
        // response says `Connection: close`, so no proxy sends another request on this one.
        sink.chunkedBody = body as UwsBody;
        sink.closeAfter = true;
      }
      else if (declared.length === 0) body = EMPTY_BODY;
    }
    sink.headOnly = method === "HEAD";

    const request: IncomingRequest = {
      method,
      target,
      protocol: "HTTP/1.1",
      headers,
      remoteAddress: remoteAddress(res),
      remotePort: 0,
      localAddress: this.localAddress,
      localPort: this.localPort,
      scheme: "http",
      body,
    };
    handler(request, sink);
    if (body instanceof UwsBody) body.listen();
  }

  /**
   * Run `fn` with the socket corked: directly inside uWS's request handler, which is corked
   * already (a `cork` call there would only cost a round trip through C++), else via `cork`.
   */
  corked(res: UwsResponse, fn: () => void): void {
    if (this.inHandler) fn();
    else res.cork(fn);
  }

  /** Called by a sink when its response has ended or been aborted. */
  settle(): void {
    this.active--;
    this.closeLeftovers();
  }
}

/** Client addresses as text, by their raw value (a few clients make most requests). */
const addressTexts = new Map<number | string, string>();
const ADDRESS_TEXT_MAX = 4096;

/**
 * The client's address, as Apache writes it (src/http/address-text.ts). uWS reads it with a
 * getpeername call per request and hands it over in a new ArrayBuffer: the text is remembered
 * by the raw bytes, IPv4 by its 32-bit value.
 */
function remoteAddress(res: UwsResponse): string {
  const b = new Uint8Array(res.getRemoteAddress());
  const key = b.length === 4 ? ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0 : Buffer.from(b).toString("latin1");
  let text = addressTexts.get(key);
  if (text === undefined) {
    text = addressText(b);
    if (addressTexts.size >= ADDRESS_TEXT_MAX) addressTexts.clear();
    addressTexts.set(key, text);
  }
  return text;
}

/** A body delivered by `res.onData`, buffered until the consumer calls `start()`. */
class UwsBody implements RequestBody {
  private queue: Uint8Array[] | null = null;
  private ended = false;
  private consumer: ((chunk: Uint8Array, last: boolean) => void) | null = null;
  private deferredEnd = false;

  /** The whole body has arrived (its last chunk was taken). */
  complete = false;

  constructor(
    private readonly res: UwsResponse,
    readonly declaredLength: number,
    readonly chunked: boolean,
    /** The response of this request: once it is aborted or ended, `res` must not be touched. */
    private readonly sink: UwsSink,
  ) {
    if (declaredLength > 0 || chunked) this.queue = [];
    else this.ended = true;
  }

  /**
   * Start taking the body from uWS. Called when the handler returns, still inside uWS's
   * callback (the body is delivered after it), and only if the response is not already over:
   * a body refused outright (413) is then skipped by uWS without a JavaScript call per chunk.
   */
  listen(): void {
    if (this.queue === null && this.consumer === null) return;
    if (this.ended || this.sink.released) return;
    this.res.onData((ab, isLast) => this.receive(ab, isLast));
  }

  private receive(ab: ArrayBuffer, isLast: boolean): void {
    if (isLast && this.chunked && !this.deferredEnd) return this.deferEnd(ab);
    if (isLast) this.complete = true;
    if (this.consumer) {
      this.consumer(new Uint8Array(ab), isLast);
      return;
    }
    // Answered without reading it (413, an error page): nobody will ask for the rest.
    if (this.sink.released) {
      this.queue = [];
      if (isLast) this.ended = true;
      return;
    }
    // uWS neuters `ab` after this call returns: keep a copy until someone asks.
    this.queue!.push(Buffer.from(new Uint8Array(ab)));
    if (isLast) this.ended = true;
  }

  /**
   * uWS 20.30 reads a chunk-size line that starts with a space or tab (` 5`) as the last chunk,
   * after any number of chunks: the body ends there and the bytes after it are parsed as the
   * next request, which a proxy reading ` 5` as 5 would have forwarded as body (request
   * smuggling). So a chunked body's end is taken on the next turn, never inside the read that
   * brought it: a request uWS finds behind it in that read meets a response still pending, and
   * uWS drops the connection instead of running it (as for a refusal, see begin()). Its response
   * says `Connection: close` (begin()), so a proxy sends nothing more on the connection either.
   */
  private deferEnd(ab: ArrayBuffer): void {
    this.deferredEnd = true;
    if (ab.byteLength > 0) this.receive(ab, false);
    setImmediate(() => {
      if (!this.sink.aborted) this.receive(new ArrayBuffer(0), true);
    });
  }

  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void {
    if (this.consumer) throw new NodewsgiError("E_BODY_STARTED", "request body already being read");
    const queued = this.queue ?? [];
    this.queue = null;
    for (let i = 0; i < queued.length; i++) onChunk(queued[i], this.ended && i === queued.length - 1);
    if (this.ended) {
      if (queued.length === 0) onChunk(EMPTY, true);
      return;
    }
    this.consumer = onChunk;
  }

  pause(): void {
    if (!this.ended && !this.sink.released) this.res.pause();
  }

  resume(): void {
    if (!this.ended && !this.sink.released) this.res.resume();
  }
}

/**
 * Whether a piece of a response head needs sending as latin-1 bytes. A header value is bytes
 * given as latin-1 text (PEP 3333; node:http and mod_wsgi send it so), while uWS would encode
 * a string as UTF-8. CR, LF, NUL and characters beyond latin-1 cannot be sent at all.
 */
function headText(text: string, what: string): boolean {
  if (UNSAFE_HEADER.test(text) || BEYOND_LATIN1.test(text)) throw new NodewsgiError("E_HEADER_VALUE", `invalid character in ${what}`);
  return NOT_ASCII.test(text);
}

/** Bodies up to this size are handed to uWS's `end()` in one call; larger ones go through tryEnd. */
const WHOLE_BODY_MAX = 64 * 1024;

class UwsSink implements ResponseSink {
  aborted = false;
  headOnly = false;
  /**
   * Close the connection after this response: the client or the application said
   * `Connection: close`, or the request was refused as malformed.
   */
  closeAfter = false;
  private watchingAbort = false;
  private backpressured = false;
  /** Made on first use: most responses end without anyone waiting on them. */
  private abortHandlers: ((cause?: AbortCause) => void)[] | null = null;
  /** Why the connection was closed under the response, when the server closed it. */
  private abortCause: AbortCause | undefined = undefined;
  /** The request's chunked body, until the response ends (see endBeforeChunkedBody). */
  chunkedBody: UwsBody | null = null;
  /** Status line and header lines after "HTTP/1.1 ", joined by CRLF ("" until writeHead). */
  private head = "";
  /** The head holds text beyond ASCII: sent as latin-1 bytes, not as uWS's UTF-8. */
  private latin1 = false;
  private headSent = false;
  /** Body bytes went out through `res.write` (chunked): only `end(body, false)` may follow. */
  private streamed = false;
  private finished = false;
  /** end() was called (the response may still be finishing from onWritable). */
  private ending = false;

  /** The client went away or the response was ended: `res` is off limits from now on. */
  get released(): boolean {
    return this.aborted || this.finished;
  }
  /** Declared body length, or -1 when the body is sent chunked. */
  private length = -1;
  private written = 0;
  /** A chunk `tryEnd` could not fully send, with the write offset it started at. */
  private pending: { chunk: Uint8Array; offset: number } | null = null;
  private waiters: (() => void)[] | null = null;
  /** The send timer: counts while `backpressured`, restarted on each onWritable (progress). */
  private sendTimer: NodeJS.Timeout | null = null;
  /** This response's send timeout (its virtual host's Timeout), or -1 for the front end's. */
  private sendTimeoutMs = -1;
  /** afterSent() callers: told whether the rest of the response reached the socket. */
  private sentWaiters: SentListener[] | null = null;

  constructor(
    private readonly res: UwsResponse,
    private readonly owner: UwsFrontEnd,
  ) {}

  /**
   * Attach uWS's abort handler (once). Required before the request handler returns without
   * a response, and before `endWithoutBody(length)`, which uWS 20.30 leaves pending.
   */
  watchAbort(): void {
    if (this.watchingAbort) return;
    this.watchingAbort = true;
    this.res.onAborted(() => this.abort());
  }

  abort(): void {
    if (this.aborted) return;
    // After the response finished (a connection closed on purpose) `res` is off limits all the
    // same, and the response was counted out already.
    this.aborted = true;
    if (this.finished) return;
    this.owner.settle();
    this.stopSendClock(false);
    const handlers = this.abortHandlers;
    this.abortHandlers = null;
    if (handlers) for (const cb of handlers) cb(this.abortCause);
    this.wakeWaiters();
  }

  onAbort(cb: (cause?: AbortCause) => void): void {
    if (this.aborted) cb(this.abortCause);
    else (this.abortHandlers ??= []).push(cb);
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters) for (const w of waiters) w();
  }

  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    if (this.head !== "") throw new NodewsgiError("E_HEAD_SENT", "response head already written");
    // A CR or LF would split the response (node:http refuses them the same way); the caller
    // turns the error into a 500. Text beyond ASCII goes out as latin-1 bytes (see headText).
    let latin1 = NOT_PLAIN.test(reason) && headText(reason, "the status reason");
    const server = this.owner.serverHeader;
    // The whole head as one text for one uWS call (uWS writes "HTTP/1.1 ", it, CRLF): each
    // call costs a trip into C++ and a UTF-8 copy of its arguments.
    let head = server === "" ? `${status} ${reason}` : `${status} ${reason}\r\nServer: ${server}`;
    let length = -1;
    let close = false;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i];
      const name = h[0];
      const value = h[1];
      if (NOT_PLAIN.test(name) || NOT_PLAIN.test(value)) {
        const what = `response header ${JSON.stringify(name)}`;
        if (headText(name, what)) latin1 = true;
        if (headText(value, what)) latin1 = true;
      }
      // uWS writes its own framing headers; a second copy would corrupt the response. Only
      // names of those lengths need a case-insensitive look.
      const n = name.length;
      if (n === 14 || n === 10 || n === 17 || n === 6) {
        const lower = name.toLowerCase();
        if (lower === "content-length") {
          const declared = Number(value);
          if (Number.isSafeInteger(declared) && declared >= 0) length = declared;
          continue;
        }
        if (lower === "connection") {
          if (CONNECTION_CLOSE.test(value)) close = true;
          continue;
        }
        if (lower === "transfer-encoding" || (lower === "server" && server !== "")) continue;
      }
      head += `\r\n${name}: ${value}`;
    }
    // Nothing is assigned until the head is known to be valid: a refused head leaves the sink
    // as it was, for the 500 that replaces it. A 1xx, 204 or 304 response has no body and
    // says nothing about one: it ends as a HEAD response of unknown length does.
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.headOnly = true;
      length = -1;
    }
    this.length = length;
    if (close) this.closeAfter = true;
    this.head = head;
    this.latin1 = latin1;
  }

  /**
   * Write the head (once). `close` adds `Connection: close` where uWS will not write it
   * itself: it does so only for `end(body, true)` and `endWithoutBody(length, true)`.
   * `length` adds a Content-Length where uWS will not write one (a body-less end).
   */
  private sendHead(close: boolean, length = -1): void {
    if (this.headSent) return;
    this.headSent = true;
    let head = length >= 0 ? `${this.head}\r\nContent-Length: ${length}` : this.head;
    if (close) head += "\r\nConnection: close";
    this.res.writeStatus(this.latin1 ? Buffer.from(head, "latin1") : head);
  }

  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.finished) return false;
    // A response without a body sends its head with end().
    if (chunk.length === 0 || this.headOnly) return !this.backpressured;
    const close = this.owner.draining || this.closeAfter;
    this.owner.corked(this.res, () => {
      if (this.length >= 0 && this.written === 0 && chunk.length === this.length && chunk.length <= WHOLE_BODY_MAX && close) {
        // The whole body at once on a connection that must close after it (a relayed error
        // page): ended as end() would, since once tryEnd has sent the last byte the connection
        // can no longer be closed.
        this.sendHead(false);
        this.written = chunk.length;
        this.res.end(chunk, true);
        this.markFinished();
        return;
      }
      if (this.length >= 0) {
        // Known length: uWS cannot close after it (see end()); a stopping server closes
        // every connection once nothing is in flight.
        this.sendHead(this.owner.draining || this.closeAfter);
        this.tryEnd(chunk);
        return;
      }
      // Chunked: uWS could only say close in the head, which goes out now. The client closes
      // after reading the response; a stopping server closes the connection itself.
      this.sendHead(close);
      this.streamed = true;
      if (!this.res.write(chunk)) this.waitWritable();
    });
    return !this.backpressured;
  }

  /** Send part of a known-length body; what uWS cannot take now is resent from onWritable. */
  private tryEnd(chunk: Uint8Array): void {
    const offset = this.res.getWriteOffset();
    const [sent, done] = this.res.tryEnd(chunk, this.length);
    this.written += chunk.length;
    if (done) this.markFinished();
    if (!sent) {
      this.pending = { chunk, offset };
      this.waitWritable();
    }
  }

  private waitWritable(): void {
    if (this.backpressured) return;
    this.backpressured = true;
    this.startSendClock();
    this.res.onWritable((offset) => {
      if (this.aborted) return true;
      const p = this.pending;
      if (p) {
        const [sent, done] = this.res.tryEnd(p.chunk.subarray(offset - p.offset), this.length);
        if (done) this.markFinished();
        if (!sent) {
          // The socket took some: the client made progress.
          if (!done) this.startSendClock();
          return false;
        }
        this.pending = null;
      }
      this.backpressured = false;
      this.wakeWaiters();
      return true;
    });
  }

  /** A write waits for the client (or it took some of it): the send timeout counts from now. */
  private startSendClock(): void {
    if (this.sendTimer !== null) {
      this.sendTimer.refresh();
      return;
    }
    const ms = this.sendTimeoutMs >= 0 ? this.sendTimeoutMs : this.owner.sendTimeoutMs;
    if (ms <= 0) return;
    this.sendTimer = setTimeout(() => this.sendTimedOut(), ms);
    this.sendTimer.unref();
  }

  /** The response is over (`sent`: its last byte handed to uWS): no timer, and afterSent() told. */
  private stopSendClock(sent: boolean): void {
    if (this.sendTimer !== null) clearTimeout(this.sendTimer);
    const told = this.sentWaiters;
    this.sentWaiters = null;
    if (told !== null) for (const l of told) l.responseSent(sent);
  }

  /**
   * httpd's send timeout: the client took nothing for Timeout seconds while a write waited. The
   * connection is closed: onAborted aborts the response as for a client that went away.
   */
  private sendTimedOut(): void {
    if (!this.backpressured || this.aborted || this.finished) return;
    this.owner.errorLog?.log("debug", "core", sendTimedOutLine(`${remoteAddress(this.res)}:0`));
    this.pending = null;
    this.abortCause = "send-timeout";
    this.res.close();
  }

  setSendTimeout(ms: number): void {
    this.sendTimeoutMs = ms;
  }

  afterSent(listener: SentListener): boolean {
    if (this.pending === null || this.released) return false;
    (this.sentWaiters ??= []).push(listener);
    return true;
  }

  drain(): Promise<void> {
    if (this.aborted || !this.backpressured) return Promise.resolve();
    return new Promise((resolve) => (this.waiters ??= []).push(resolve));
  }

  end(chunk?: Uint8Array): void {
    if (this.aborted || this.finished || this.ending) return;
    const unread = this.chunkedBody;
    if (unread !== null) {
      this.chunkedBody = null;
      if (!unread.complete) return this.endBeforeChunkedBody(chunk);
    }
    this.ending = true;
    const body = chunk ?? EMPTY;
    const close = this.owner.draining || this.closeAfter;
    this.owner.corked(this.res, () => {
      const whole = this.written === 0 && (this.length < 0 || body.length === this.length);
      if (this.headOnly) {
        // Ended without a length, which uWS 20.30 completes (and closes after if the client
        // asked). Given a length it writes the header but leaves the response pending, and
        // drops the connection when the next request arrives; an explicit undefined writes a
        // bogus length. So the length, if any, goes in the head.
        this.sendHead(close, this.length);
        this.res.endWithoutBody();
      } else if (this.streamed) {
        // The end of a chunked body, whose head went out with its first chunk: `close` here
        // would make uWS write a Connection line into the body.
        this.res.end(body, false);
      } else if (whole && body.length <= WHOLE_BODY_MAX) {
        // A small body at once: uWS frames it and closes afterwards when asked to.
        this.sendHead(false);
        this.res.end(body, close);
      } else if (body.length > 0) {
        // A large body, or the rest of a known-length one: through tryEnd, so what the socket
        // cannot take now is resent from onWritable and the response counts as in flight until
        // then (`end()` would leave it in uWS's buffer, which closing the app on a graceful
        // stop discards). A short body is the application's error, and the gateway layer
        // destroys the connection for it. `tryEnd` cannot close, and once it has sent the last
        // byte `res` may not be touched: uWS closes if the client asked, a stopping server
        // closes every connection once nothing is in flight, and otherwise the connection,
        // whose head said nothing of closing, stays open.
        if (this.length < 0) this.length = body.length;
        this.sendHead(this.owner.draining || this.closeAfter);
        this.tryEnd(body);
      } else if (this.written === 0) {
        this.watchAbort();
        this.sendHead(false);
        this.res.endWithoutBody(this.length, close);
      }
    });
    // A chunk uWS could not take yet is resent from onWritable, which finishes the response
    // when the last byte is handed over: until then it is in flight (a graceful stop waits).
    if (this.pending === null) this.markFinished();
  }

  /**
   * A response that ends before its request's chunked body has been read (an error page, a
   * refusal): uWS would go on to parse the rest of the body and what follows it as requests on
   * this connection, and reads some chunk-size lines differently from a proxy in front (see
   * UwsBody.deferEnd), so what follows may be a smuggled request. The connection is
   * closed after the response (begin() set closeAfter for every chunked request), and the
   * response ends on the next turn: a request uWS finds in the same read meets it pending, and
   * uWS drops the connection instead of running it.
   */
  private endBeforeChunkedBody(chunk: Uint8Array | undefined): void {
    this.watchAbort();
    const body = chunk === undefined ? undefined : Buffer.from(chunk);
    this.ending = true;
    setImmediate(() => {
      this.ending = false;
      this.end(body);
    });
  }

  /**
   * Close the connection mid-response: the client sees the body cut short. What was written
   * may still be corked: inside uWS's handler, and in the microtasks that run before uWS
   * uncorks. Closing at once would discard it and the client would get nothing at all, so a
   * response with a head sent is closed on the next turn of the loop, once uWS has sent it.
   */
  destroy(): void {
    if (this.aborted || this.finished) return;
    // Counted out first: close() runs the abort handler synchronously.
    this.markFinished(false);
    // Nothing more goes out: a chunk left for onWritable could otherwise complete the
    // response before the close below, and `res` may not be touched after that.
    this.pending = null;
    this.wakeWaiters();
    if (!this.headSent) {
      this.res.close();
      return;
    }
    this.watchAbort();
    setImmediate(() => {
      if (!this.aborted) this.res.close();
    });
  }

  /** The response is over here: its last byte handed to uWS, or the connection closed. */
  private markFinished(sent = true): void {
    if (this.finished) return;
    this.finished = true;
    this.owner.settle();
    if (this.sendTimer !== null || this.sentWaiters !== null) this.stopSendClock(sent);
  }
}
