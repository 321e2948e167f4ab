/**
 * The contract between a front end (uWS or node:http) and the rest of the server.
 *
 * A front end copies everything it needs out of its native request object before the first
 * await (uWS invalidates `req` after the handler returns), so the rest of the pipeline only
 * ever sees these plain shapes.
 */
import type { BodyReadLimit } from "./body-read-timeout";

/** A request as copied off the wire. */
export interface IncomingRequest {
  /** Method exactly as sent (`GET`, `POST`, ...). */
  readonly method: string;
  /** The raw request target as on the request line: path plus `?query` if one was sent. */
  readonly target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  readonly protocol: string;
  /**
   * Header fields in arrival order as a flat list: `[name0, value0, name1, value1, ...]`.
   * Names are lower-case; values are as received with surrounding whitespace trimmed.
   */
  readonly headers: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** `http`, or `https` when the listener is TLS. */
  readonly scheme: "http" | "https";
  /** The request body; present for every request, empty when none was sent. */
  readonly body: RequestBody;
}

/**
 * A request body arriving from the socket. Chunks are delivered once, in order; the consumer
 * may pause the socket while it is busy.
 */
export interface RequestBody {
  /** Declared length from Content-Length, or -1 when chunked or absent. */
  readonly declaredLength: number;
  /** True when the request used Transfer-Encoding: chunked. */
  readonly chunked: boolean;
  /**
   * Start delivery. `onChunk` receives each chunk (valid only during the call: copy it if kept)
   * and `last` is true on the final one (which may be empty). Call at most once.
   */
  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void;
  pause(): void;
  resume(): void;
  /** RequestReadTimeout body=: the reader answers 408 once its BodyDeadline passes (./body-read-timeout). */
  readonly readLimit?: BodyReadLimit;
  /** Called by the reader that gave up on the body for its read limit (logs it). */
  readTimedOut?(): void;
}

/** Told whether the rest of an ended response reached the socket (see ResponseSink.afterSent). */
export interface SentListener {
  responseSent(complete: boolean): void;
}

/** Why the server closed a connection under a response (see ResponseSink.onAbort). */
export type AbortCause = "send-timeout";

/** One response header field. */
export type HeaderPair = readonly [name: string, value: string];

/**
 * Where a response is written. Implemented by each front end; used by static file serving,
 * the gateway interface and error pages alike.
 */
export interface ResponseSink {
  /** True once the client has gone away; nothing written after that reaches anyone. */
  readonly aborted: boolean;
  /**
   * Called once if the client goes away before `end()`. `cause` says when the server closed the
   * connection itself: "send-timeout", the client took nothing of the response for Timeout
   * seconds (mod_wsgi logs that where it writes or proxies the response).
   */
  onAbort(cb: (cause?: AbortCause) => void): void;
  /**
   * Send the status line and headers. `Content-Length`, when present and valid, is honoured:
   * the body is sent with that length (and cut or padded never: the writer must send exactly
   * that many bytes). Without it the body is sent chunked (HTTP/1.1) or until close.
   * Must be called exactly once, before any write.
   */
  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void;
  /**
   * Write a body chunk. Returns true when the chunk was accepted without backpressure; false
   * means: wait for `drain()` before writing more.
   */
  write(chunk: Uint8Array): boolean;
  /** Resolves when the socket can take more data (immediately when it already can). */
  drain(): Promise<void>;
  /** Finish the response, optionally with a last chunk. */
  end(chunk?: Uint8Array): void;
  /** Drop the connection without completing the response (after a failure mid-body). */
  destroy(): void;
  /**
   * Optional. Called before the server answers with an error page of its own instead of the
   * application's response (the script failed to load, the application failed before its head,
   * a refused body, a group that could not run the request): httpd applies ErrorDocument to
   * these. A sink that applies ErrorDocument sends its document and returns true, and the
   * caller then sends nothing. (A sink relaying to another thread or process has none: the
   * page's head comes through its writeErrorHead, marked on the wire, and the front end asks
   * its own sink.) `headers` are the page's extra headers (Allow, Connection), not its
   * Content-Type or Content-Length.
   */
  serverError?(status: number, headers: readonly HeaderPair[]): boolean;
  /**
   * Optional. `writeHead` for a page the server makes for an error or a redirect (httpd's
   * ap_send_error_response), which `Header onsuccess` rules leave alone. Sinks without it
   * take such a head through `writeHead`.
   */
  writeErrorHead?(status: number, reason: string, headers: readonly HeaderPair[]): void;
  /**
   * Optional. The send timeout for this response in ms (0: none), set before its head when the
   * request's virtual host has a Timeout of its own; otherwise the front end's (the main
   * server's) applies.
   */
  setSendTimeout?(ms: number): void;
  /**
   * Optional, after `end()`: false when nothing of the response waits for the client any more
   * (the common case; `listener` is never called). Otherwise true, and `listener` is told once
   * the rest was handed to the socket (true) or the connection closed first (false: a send
   * timeout, the client went away). The access log waits for it, as httpd logs a request once
   * its response has been sent or given up. (A listener object, not a callback: nothing is
   * allocated for the common case.)
   */
  afterSent?(listener: SentListener): boolean;
}
