/**
 * Running an application against one request: start_response, the response iterable, and
 * the rules mod_wsgi enforces around them.
 *
 * - Headers go out with the first non-empty body chunk, or at the end (WSGI's rule). Until
 *   then start_response may be called again, with or without exc_info, and the last call
 *   wins (mod_wsgi allows it; PEP 3333 asks for exc_info); after that only exc_info re-raises.
 * - Hop-by-hop headers are the server's: an application's `Connection: close` goes to the
 *   front end, which closes the connection after the response where it can (uWS cannot after
 *   a large known-length body: docs/front-ends.md); its `Keep-Alive` and `Transfer-Encoding`
 *   are dropped (the front end frames the body). mod_wsgi passes all three on as they are.
 * - 204 and 304 responses carry no body and no Content-Length or Content-Type, as httpd
 *   sends them (whatever the application returned is consumed and discarded).
 * - Body items may be Buffer/Uint8Array, or strings (encoded as UTF-8 for convenience, where
 *   mod_wsgi insists on bytes). An application may also return a single Buffer or string,
 *   a Promise of the result, or an async iterable.
 * - `write(chunk)` from start_response sends at once; it returns a Promise that resolves
 *   when the socket can take more (awaiting it is optional).
 * - A declared Content-Length is enforced: extra bytes are cut off (as mod_wsgi does); a
 *   short body is logged and the connection dropped, since the framing cannot be completed.
 *   An array result without one gets a Content-Length computed from its items.
 * - `close()` on the result is called once when the response ends: after the last byte,
 *   after a failure, or as soon as the client goes away.
 * - An exception before headers are sent gives Apache's 500 page; after that the connection
 *   is dropped. Both are logged with the stack. runApplication itself never rejects.
 */
import { errorPage, errorPageHead, withClosingHeader } from "../static/error-page";
import type { HeaderPair, ResponseSink } from "../http/types";
import { writeErrorHead } from "../http/write-head";
import type { ErrorLog } from "../log/error-log";
import type { Environ } from "./environ";
import { textOf } from "../engine/byte-string";
import { withMergedVary } from "../http/vary";

export interface RunOptions {
  /** The request method; HEAD runs the application but sends no body. */
  readonly method: string;
  readonly log: ErrorLog;
  /** The script for log messages (default: environ.SCRIPT_FILENAME). */
  readonly scriptFilename?: string;
  /** Prefix for log lines, e.g. clientPrefix(addr, port) from ./errors-stream. */
  readonly logPrefix?: string;
  /** Shown on the 500 page (default: environ.SERVER_ADMIN, else "[no address given]"). */
  readonly serverAdmin?: string;
}

export type StartResponse = (status: string, headers: readonly (readonly [string, string])[], excInfo?: unknown) => WriteCallable;
export type WriteCallable = (data: Uint8Array | string) => Promise<void>;

/** Response headers the server sets itself: an application's are dropped. */
const SERVER_FRAMING = new Set(["keep-alive", "transfer-encoding"]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const STATUS = /^(\d{3}) ([^\x00-\x1f\x7f]*)$/;
const RESOLVED: Promise<void> = Promise.resolve();
const ABORTED: unique symbol = Symbol("aborted");
/** mod_wsgi's line (embedded mode) when a write to the client timed out: in-thread and worker groups. */
export const WRITE_TIMED_OUT = `mod_wsgi (pid=${process.pid}): Failed to write response data: The timeout specified has expired.`;

/**
 * Run `app(environ, start_response)` and write its response to `sink`. Never rejects. An
 * application that returns an array (the usual case) is run to the end synchronously when the
 * socket takes the response at once: the result is then undefined, otherwise a promise that
 * settles when the response is over.
 */
export function runApplication(app: (environ: Environ, startResponse: StartResponse) => unknown, environ: Environ, sink: ResponseSink, opts: RunOptions): Promise<void> | undefined {
  return new ResponseRun(environ, sink, opts).run(app);
}

class ResponseRun {
  private code = 0;
  private reason = "";
  private headers: HeaderPair[] = [];
  private started = false;
  private headersSent = false;
  private finished = false;
  private declared = -1;
  private sent = 0;
  private readonly head: boolean;
  /** Nothing of the body goes out: a HEAD request, or a 204/304 status. */
  private noBody = false;
  private aborted = false;
  /** Settles when the client goes away; made only when something has to wait for it. */
  private abortPromise: Promise<typeof ABORTED> | null = null;
  private onAbort: ((v: typeof ABORTED) => void) | null = null;
  private tail: Promise<void> | null = null;
  private writeError: unknown = null;
  private result: unknown = undefined;
  private closed = false;
  private iterator: Iterator<unknown> | AsyncIterator<unknown> | null = null;

  constructor(
    private readonly environ: Environ,
    private readonly sink: ResponseSink,
    private readonly opts: RunOptions,
  ) {
    this.head = opts.method === "HEAD";
    if (sink.aborted) {
      this.aborted = true;
    } else {
      sink.onAbort((cause) => {
        this.aborted = true;
        // As mod_wsgi in embedded mode, whose write to the client timed out.
        if (cause === "send-timeout") this.logLine(WRITE_TIMED_OUT, "debug");
        this.onAbort?.(ABORTED);
        // Stop the application's iteration and let it release resources now, not when
        // (if ever) its next chunk arrives.
        this.stopIterator();
        this.callClose();
      });
    }
  }

  /** A promise when the response could not be completed synchronously. */
  run(app: (environ: Environ, startResponse: StartResponse) => unknown): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    try {
      const result = app(this.environ, this.startResponse);
      pending = isThenable(result) ? Promise.resolve(result).then((r) => this.consumeResult(r)) : this.consumeResult(result);
    } catch (err) {
      this.fail(err);
    }
    if (pending === undefined) {
      this.done();
      return undefined;
    }
    return pending.then(
      () => this.done(),
      (err: unknown) => {
        this.fail(err);
        this.done();
      },
    );
  }

  private abortSignal(): Promise<typeof ABORTED> {
    if (this.abortPromise === null) {
      this.abortPromise = this.aborted ? Promise.resolve(ABORTED) : new Promise((resolve) => (this.onAbort = resolve));
    }
    return this.abortPromise;
  }

  private consumeResult(result: unknown): Promise<void> | undefined {
    this.result = result;
    if (this.aborted) {
      this.callClose();
      return undefined;
    }
    return this.consume(result);
  }

  private done(): void {
    this.finished = true;
    this.callClose();
    const errors = this.environ["wsgi.errors"] as { flush?: () => void } | undefined;
    try {
      errors?.flush?.();
    } catch {
      /* a broken log stream must not break the response */
    }
  }

  private readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (this.finished) throw new Error("start_response() called after request completed");
    if (this.headersSent) {
      if (excInfo != null) throw Array.isArray(excInfo) ? excInfo[1] : excInfo;
      throw new Error("headers have already been sent");
    }
    const [code, reason] = parseStatus(status);
    const { list, declared } = checkHeaders(headers);
    this.code = code;
    this.reason = reason;
    this.headers = list;
    this.declared = declared;
    this.started = true;
    return this.write;
  };

  private readonly write: WriteCallable = (data) => {
    if (this.finished) throw new Error("write() called after request completed");
    if (!this.started) throw new Error("start_response() must be called before response content is produced");
    const buf = toBytes(data, "write() argument");
    if (buf.length === 0) return this.tail ?? RESOLVED;
    if (this.tail === null) {
      const r = this.send(buf);
      return r === undefined ? RESOLVED : this.track(r);
    }
    return this.track(this.tail.then(() => this.send(buf)));
  };

  private track(p: Promise<void>): Promise<void> {
    const t: Promise<void> = p.then(
      () => {
        if (this.tail === t) this.tail = null;
      },
      (err) => {
        this.writeError ??= err;
        if (this.tail === t) this.tail = null;
      },
    );
    this.tail = t;
    return t;
  }

  private consume(result: unknown): Promise<void> | undefined {
    if (typeof result === "string" || result instanceof Uint8Array) result = [result];
    if (Array.isArray(result)) return this.consumeArray(result);
    return this.consumeIterable(result);
  }

  private async consumeIterable(result: unknown): Promise<void> {
    if (result == null || (typeof result !== "object" && typeof result !== "function")) {
      throw new TypeError(`response must be an iterable, not ${typeName(result)}`);
    }
    const asyncIt = (result as AsyncIterable<unknown>)[Symbol.asyncIterator];
    const syncIt = (result as Iterable<unknown>)[Symbol.iterator];
    if (typeof asyncIt !== "function" && typeof syncIt !== "function") {
      throw new TypeError(`response must be an iterable, not ${typeName(result)}`);
    }
    const it = typeof asyncIt === "function" ? asyncIt.call(result) : syncIt.call(result);
    this.iterator = it;
    let done = false;
    try {
      while (!this.aborted) {
        let step = it.next() as IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
        if (isThenable(step)) {
          const s = await Promise.race([step, this.abortSignal()]);
          if (s === ABORTED) break;
          step = s;
        }
        if (step.done) {
          done = true;
          break;
        }
        const buf = toBytes(step.value, "response iterable item");
        if (buf.length === 0) continue;
        await this.flushWrites();
        const r = this.send(buf);
        if (r !== undefined) await r;
      }
    } finally {
      if (!done) this.stopIterator();
    }
    await this.finish();
  }

  /** Synchronous for as long as nothing makes it wait (earlier write() calls, backpressure). */
  private consumeArray(items: readonly unknown[]): Promise<void> | undefined {
    const bufs: Buffer[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) bufs[i] = toBytes(items[i], "response iterable item");
    if (this.started && !this.headersSent && this.declared < 0 && this.tail === null) {
      let total = 0;
      for (const b of bufs) total += b.length;
      this.headers.push(["Content-Length", String(total)]);
      this.declared = total;
    }
    let last = bufs.length - 1;
    while (last >= 0 && bufs[last].length === 0) last--;
    for (let i = 0; i < last && !this.aborted; i++) {
      if (bufs[i].length === 0) continue;
      if (this.tail !== null) return this.consumeArrayAsync(bufs, i, last);
      this.throwWriteError();
      const r = this.send(bufs[i]);
      if (r !== undefined) return r.then(() => this.consumeArrayAsync(bufs, i + 1, last));
    }
    return this.finish(last >= 0 ? bufs[last] : undefined);
  }

  /** consumeArray from `from` on, once something has to be awaited. */
  private async consumeArrayAsync(bufs: readonly Buffer[], from: number, last: number): Promise<void> {
    for (let i = from; i < last && !this.aborted; i++) {
      if (bufs[i].length === 0) continue;
      await this.flushWrites();
      const r = this.send(bufs[i]);
      if (r !== undefined) await r;
    }
    // The last chunk goes out with end(): one write for the common one-item response.
    await this.finish(last >= 0 ? bufs[last] : undefined);
  }

  private async flushWrites(): Promise<void> {
    if (this.tail !== null) await this.tail;
    this.throwWriteError();
  }

  private throwWriteError(): void {
    if (this.writeError !== null) throw this.writeError;
  }

  /** Send one non-empty chunk; a Promise when the socket wants us to wait. */
  private send(buf: Buffer): Promise<void> | undefined {
    if (this.aborted || this.sink.aborted) return undefined;
    if (!this.headersSent) this.sendHeaders();
    const chunk = this.clip(buf);
    if (chunk === null || this.noBody) return undefined;
    if (this.sink.write(chunk)) return undefined;
    return Promise.race([this.sink.drain(), this.abortSignal()]).then(() => undefined);
  }

  /** Count a chunk against the declared length; null when nothing of it may be sent. */
  private clip(buf: Buffer): Buffer | null {
    if (this.declared >= 0) {
      const room = this.declared - this.sent;
      if (buf.length > room) {
        this.logLine(`mod_wsgi (pid=${process.pid}): Content length mismatch, expected ${this.declared}, response generated more: ${textOf(this.script())}`, "warn");
        if (room <= 0) return null;
        buf = buf.subarray(0, room);
      }
    }
    this.sent += buf.length;
    return buf;
  }

  private sendHeaders(): void {
    if (!this.started) throw new Error("start_response() must be called before response content is produced");
    let headers: readonly HeaderPair[] = this.headers;
    this.noBody = this.head;
    if (this.code === 204 || this.code === 304) {
      // As httpd's header filter: no body, and no headers describing one.
      headers = headers.filter(([name]) => !isBodyHeader(name));
      this.noBody = true;
      this.declared = -1;
    }
    // httpd closes after a 400, 500, 503, ... whoever sent it, an application's response too.
    headers = withClosingHeader(this.code, headers, "application");
    this.sink.writeHead(this.code, this.reason, headers);
    this.headersSent = true;
  }

  /** End the response once earlier write() calls are through; synchronous when there are none. */
  private finish(last?: Buffer): Promise<void> | undefined {
    if (this.tail !== null) return this.tail.then(() => this.finishNow(last));
    this.finishNow(last);
    return undefined;
  }

  private finishNow(last?: Buffer): void {
    this.throwWriteError();
    if (this.aborted || this.sink.aborted) return;
    if (!this.headersSent) this.sendHeaders();
    const chunk = last !== undefined && last.length > 0 ? this.clip(last) : null;
    if (this.declared >= 0 && this.sent < this.declared && !this.noBody) {
      this.logLine(`mod_wsgi (pid=${process.pid}): Content length mismatch, expected ${this.declared}, response generated ${this.sent}: ${textOf(this.script())}`, "error");
      if (chunk !== null) this.sink.write(chunk);
      this.sink.destroy();
      return;
    }
    if (chunk !== null && !this.noBody) this.sink.end(chunk);
    else this.sink.end();
  }

  private fail(err: unknown): void {
    this.logException(err);
    if (this.aborted || this.sink.aborted) return;
    if (this.headersSent) return this.sink.destroy();
    this.headersSent = true;
    try {
      const e = this.environ;
      sendInternalServerError(this.sink, this.head, this.opts.serverAdmin ?? (typeof e.SERVER_ADMIN === "string" ? e.SERVER_ADMIN : undefined), typeof e.SERVER_SIGNATURE === "string" ? e.SERVER_SIGNATURE : "");
    } catch (err) {
      this.logException(err);
      this.sink.destroy();
    }
  }

  private stopIterator(): void {
    const it = this.iterator;
    this.iterator = null;
    if (it === null || typeof it.return !== "function") return;
    try {
      const r = it.return() as unknown;
      if (isThenable(r)) (r as Promise<unknown>).then(undefined, (err) => this.logException(err));
    } catch (err) {
      this.logException(err);
    }
  }

  private callClose(): void {
    if (this.closed) return;
    const result = this.result as { close?: () => unknown } | null | undefined;
    if (result == null || (typeof result !== "object" && typeof result !== "function")) return;
    this.closed = true;
    if (typeof result.close !== "function") return;
    try {
      const r = result.close();
      if (isThenable(r)) (r as Promise<unknown>).then(undefined, (err) => this.logException(err));
    } catch (err) {
      this.logException(err);
    }
  }

  private script(): string {
    return this.opts.scriptFilename ?? String(this.environ.SCRIPT_FILENAME ?? "");
  }

  private logLine(message: string, level: "error" | "warn" | "debug" = "error"): void {
    this.opts.log.log(level, "wsgi", (this.opts.logPrefix ?? "") + message);
  }

  private logException(err: unknown): void {
    logScriptException(this.opts.log, this.script(), err, this.opts.logPrefix);
  }
}

/**
 * Log an exception as mod_wsgi does: a headline naming the script, then the stack one line
 * per entry (level error, module wsgi). `scriptFilename` is a byte string, as requests name
 * scripts; it is logged as its text.
 */
export function logScriptException(log: ErrorLog, scriptFilename: string, err: unknown, prefix = ""): void {
  log.log("error", "wsgi", `${prefix}mod_wsgi (pid=${process.pid}): Exception occurred processing WSGI script '${textOf(scriptFilename)}'.`);
  const text = err instanceof Error ? err.stack ?? `${err.name}: ${err.message}` : `Uncaught value: ${safeString(err)}`;
  for (const line of text.split("\n")) log.log("error", "wsgi", prefix + line);
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error && cause.stack && !text.includes(cause.stack)) {
    for (const line of ("Caused by: " + cause.stack).split("\n")) log.log("error", "wsgi", prefix + line);
  }
}

/**
 * Apache's 500 page, byte for byte (the canned page of ../static/error-page). `signature` is
 * ServerSignature's footer as SERVER_SIGNATURE carries it (`<address>...</address>\n`, "" when
 * Off): httpd ends its error pages with it after an `<hr>`.
 */
export function internalErrorPage(serverAdmin = "[no address given]", signature = ""): Buffer {
  return Buffer.from(errorPage(500, { serverAdmin, signature: signature === "" ? "" : `<hr>\n${signature}` }).html, "latin1");
}

/**
 * Answer 500 with Apache's page (headers only for HEAD), closing the connection after it as
 * httpd does; the sink's ErrorDocument for 500 instead, when it has one.
 */
export function sendInternalServerError(sink: ResponseSink, head = false, serverAdmin?: string, signature = ""): void {
  if (sink.serverError?.(500, [])) return;
  // HEAD gets the head without a length, as sendErrorPage's pages.
  if (head) {
    writeErrorHead(sink, 500, "Internal Server Error", errorPageHead(500, [], null));
    sink.end();
    return;
  }
  const body = internalErrorPage(serverAdmin, signature);
  writeErrorHead(sink, 500, "Internal Server Error", errorPageHead(500, [], body.length));
  sink.end(body);
}

/** The last status line parsed: applications pass the same few ("200 OK") again and again. */
let lastStatus: string | null = null;
let lastParsed: readonly [number, string] = [0, ""];

function parseStatus(status: unknown): readonly [number, string] {
  if (status === lastStatus) return lastParsed;
  if (typeof status !== "string") throw new TypeError(`expected string object for status line, value of type ${typeName(status)} found`);
  const m = STATUS.exec(status);
  if (m === null) {
    if (!/^\d{3}(?!\d)/.test(status)) throw new Error("status code is not a 3 digit integer");
    if (status[3] !== " ") throw new Error("no space following status code");
    throw new Error("control character present in reason phrase");
  }
  const code = Number(m[1]);
  // httpd sends `099 X` as it is; node:http cannot send it, and uWS wrote `99 X` (not a status
  // line): both front ends refuse it alike.
  if (code < 100) throw new Error(`status code ${m[1]} is below 100`);
  lastParsed = [code, m[2]];
  lastStatus = status;
  return lastParsed;
}

/**
 * Header names already checked (a token), with their lower-case form:
 * applications send the same few names on every response. Cleared when full.
 */
const NAMES_MAX = 512;
const checkedNames = new Map<string, string>();

function checkName(name: string): string {
  let lower = checkedNames.get(name);
  if (lower !== undefined) return lower;
  if (!TOKEN.test(name)) throw new Error(name === "" ? "header name is empty" : `invalid character in header name '${name}'`);
  lower = name.toLowerCase();
  if (checkedNames.size >= NAMES_MAX) checkedNames.clear();
  checkedNames.set(name, lower);
  return lower;
}

function checkHeaders(headers: unknown): { list: HeaderPair[]; declared: number } {
  if (!Array.isArray(headers)) throw new TypeError(`response headers must be a list, not ${typeName(headers)}`);
  const list: HeaderPair[] = [];
  let declared = -1;
  let lengthAt = -1;
  let varies = 0;
  for (let i = 0; i < headers.length; i++) {
    const item: unknown = headers[i];
    if (!Array.isArray(item) || item.length !== 2) throw new TypeError("response header must be a [name, value] pair");
    const name: unknown = item[0];
    const value: unknown = item[1];
    if (typeof name !== "string") throw new TypeError(`expected string object for header name, value of type ${typeName(name)} found`);
    if (typeof value !== "string") throw new TypeError(`expected string object for header value, value of type ${typeName(value)} found`);
    const lower = checkName(name);
    if (BAD_VALUE.test(value)) throw new Error(`carriage return/line feed or control character present in header value for '${name}'`);
    if (SERVER_FRAMING.has(lower)) continue;
    if (lower === "content-length") {
      declared = contentLength(value);
      // The last one wins (as ap_set_content_length does); never send two.
      if (lengthAt >= 0) list.splice(lengthAt, 1);
      lengthAt = list.length;
    } else if (lower === "vary") varies++;
    list.push([name, value]);
  }
  // httpd sends Vary as one field of unique names (fixup_vary), however the application gave it.
  return { list: varies === 0 ? list : [...withMergedVary(list)], declared };
}

function isBodyHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === "content-length" || lower === "content-type";
}

/** The last Content-Length text parsed: an application sends the same one again and again. */
let lastLengthText = "";
let lastLength = 0;

function contentLength(value: string): number {
  if (value === lastLengthText) return lastLength;
  if (!/^[0-9]{1,15}$/.test(value)) throw new Error(`invalid Content-Length header value: '${value}'`);
  lastLengthText = value;
  lastLength = Number(value);
  return lastLength;
}

function toBytes(item: unknown, what: string): Buffer {
  if (Buffer.isBuffer(item)) return item;
  if (item instanceof Uint8Array) return Buffer.from(item.buffer, item.byteOffset, item.byteLength);
  if (typeof item === "string") return Buffer.from(item, "utf8");
  throw new TypeError(`${what} must be bytes or string, not ${typeName(item)}`);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as PromiseLike<unknown>).then === "function";
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return typeName(v);
  }
}

