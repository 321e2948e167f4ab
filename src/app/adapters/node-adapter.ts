/**
 * A Node `(req, res)` request listener (Express, Koa's `app.callback()`, connect, a captured
 * `http.createServer(handler)`) as a WSGI-style callable.
 *
 * `req` is a real `http.IncomingMessage` and `res` a real `http.ServerResponse`, so framework
 * prototypes, `instanceof` checks and stream plumbing (pipe, on-finished, body parsers) work.
 * Both sit on an in-memory socket (a Duplex carrying remoteAddress/remotePort/localAddress/
 * localPort/encrypted). The response's output methods (writeHead, write, end, flushHeaders)
 * are replaced by *own* properties, because Express swaps the prototype of `req`/`res` for
 * its own (whose chain still ends at IncomingMessage/ServerResponse); everything else
 * (setHeader, getHeader, removeHeader, hasHeader, appendHeader, getHeaders, statusCode, ...)
 * is Node's own code.
 *
 * Mount point: `req.url` is relative to the mount (PATH_INFO or `/`, plus `?QUERY_STRING`),
 * as Express gives a mounted sub-app; `req.baseUrl` is SCRIPT_NAME and `req.originalUrl` the
 * full path. So an Express app under `WSGIScriptAlias /app` routes `/` for `/app/`, and
 * `req.baseUrl + "/x"` builds links inside the mount. `req.environ` is the WSGI environ.
 *
 * Output: headers are committed (start_response) by writeHead, explicitly or implicitly at the
 * first write/end; body chunks are queued and handed to the server as an async iterable.
 * `write()` returns false once 16 KiB wait unsent and `drain` follows when they are taken, so
 * `pipe()` gets real backpressure. `finish` is emitted when the last chunk has been taken,
 * then `close`. A client that goes away destroys the socket: `req` emits `aborted`/`close`
 * (if its body was not fully read) and `res` emits `close` without `finish`. `res.destroy()`
 * drops the response (500 if nothing was sent yet). A write after end() calls the callback
 * with ERR_STREAM_WRITE_AFTER_END but emits no `error` (Node would, and an unhandled one
 * would kill every application in the process).
 */
import * as http from "node:http";
import { Duplex } from "node:stream";
import type { Environ } from "../environ";
import type { WsgiApplication } from "../loader";
import { HOP_BY_HOP, encodePath, inputChunks, mountRelativeTarget, queryPart, requestHeaders } from "./environ-http";

export type NodeListener = (req: http.IncomingMessage, res: http.ServerResponse) => unknown;

type StartResponse = (status: string, headers: [string, string][]) => unknown;
type Callback = (err?: Error | null) => void;

const HIGH_WATER_MARK = 16 * 1024;

/** Wrap a request listener; `thisArg` is the object that holds it. */
export function nodeListenerToWsgi(listener: NodeListener, thisArg?: unknown): WsgiApplication {
  return function nodeApplication(environ: Environ, startResponse: StartResponse) {
    const exchange = new Exchange(environ, startResponse);
    const r = listener.call(thisArg, exchange.req, exchange.res) as unknown;
    if (r !== null && typeof r === "object" && typeof (r as Promise<unknown>).then === "function") {
      // An async listener that rejects: fail the response instead of an unhandled rejection.
      (r as Promise<unknown>).then(undefined, (err: unknown) => exchange.fail(err));
    }
    return exchange.body;
  };
}

/** The in-memory connection under one request/response pair. */
class AdapterSocket extends Duplex {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  encrypted: boolean | undefined;
  readonly bytesRead = 0;
  readonly bytesWritten = 0;

  constructor(environ: Environ) {
    super({ allowHalfOpen: true });
    this.remoteAddress = str(environ.REMOTE_ADDR);
    this.remotePort = num(environ.REMOTE_PORT);
    this.remoteFamily = this.remoteAddress?.includes(":") ? "IPv6" : "IPv4";
    this.localAddress = str(environ.SERVER_ADDR);
    this.localPort = num(environ.SERVER_PORT);
    if (environ["wsgi.url_scheme"] === "https") this.encrypted = true;
    // res.destroy(err) destroys the socket with that error: it must not go unhandled.
    this.on("error", () => {});
  }
  override _read(): void {}
  override _write(_chunk: unknown, _enc: BufferEncoding, cb: Callback): void {
    cb();
  }
  setTimeout(_ms: number, cb?: () => void): this {
    if (cb) this.once("timeout", cb);
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  address(): { address: string; family: string; port: number } | Record<string, never> {
    return this.localAddress ? { address: this.localAddress, family: this.localAddress.includes(":") ? "IPv6" : "IPv4", port: this.localPort ?? 0 } : {};
  }
}

interface Queued {
  buf: Buffer;
  cb: Callback | undefined;
}

/** Internal fields of http.ServerResponse that the replaced methods maintain. */
interface ResponseInternals {
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  _closed: boolean;
  _removedContLen: boolean;
  finished: boolean;
  destroyed: boolean;
}

class Exchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly body: AsyncIterable<Buffer> & { close(): void };
  private readonly socket: AdapterSocket;
  private readonly queue: Queued[] = [];
  private queued = 0;
  private needDrain = false;
  private ended = false;
  private done = false;
  private error: unknown = null;
  private wake: (() => void) | null = null;
  private endCallbacks: Callback[] = [];

  constructor(
    readonly environ: Environ,
    private readonly startResponse: StartResponse,
  ) {
    const socket = (this.socket = new AdapterSocket(environ));
    this.req = this.makeRequest(socket);
    this.res = this.makeResponse(this.req, socket);
    socket.once("close", () => {
      // The socket only closes early: res.destroy(), req.destroy() or client abort.
      if (!this.done) this.fail(this.error ?? new Error("response destroyed before it was complete"));
    });
    const self = this;
    this.body = {
      [Symbol.asyncIterator]: () => self.iterate(),
      close: () => self.abort(),
    };
  }

  private makeRequest(socket: AdapterSocket): http.IncomingMessage {
    const env = this.environ;
    const req = new http.IncomingMessage(socket as unknown as import("node:net").Socket);
    const headers: Record<string, string | string[]> = {};
    const raw: string[] = [];
    for (const [name, value] of requestHeaders(env)) {
      raw.push(name, value);
      const prev = headers[name];
      if (name === "set-cookie") headers[name] = Array.isArray(prev) ? [...prev, value] : [value];
      else headers[name] = value;
    }
    const protocol = /^HTTP\/(\d+)\.(\d+)$/.exec(str(env.SERVER_PROTOCOL) ?? "") ?? ["", "1", "1"];
    const r = req as http.IncomingMessage & Record<string, unknown>;
    r.method = str(env.REQUEST_METHOD) ?? "GET";
    r.url = mountRelativeTarget(env);
    r.originalUrl = encodePath(String(env.SCRIPT_NAME ?? "") + String(env.PATH_INFO ?? "")) + queryPart(env) || "/";
    r.baseUrl = encodePath(String(env.SCRIPT_NAME ?? ""));
    r.headers = headers;
    r.rawHeaders = raw;
    r.httpVersionMajor = Number(protocol[1]);
    r.httpVersionMinor = Number(protocol[2]);
    r.httpVersion = `${protocol[1]}.${protocol[2]}`;
    r.environ = env;
    // The body comes from wsgi.input on demand (already collected by the server).
    const chunks = inputChunks(env);
    let reading = false;
    r._read = () => {
      if (reading) return;
      reading = true;
      chunks.next().then(
        (step) => {
          reading = false;
          if (step.done) {
            r.complete = true;
            req.push(null);
          } else if (req.push(step.value)) {
            (r._read as () => void)();
          }
        },
        (err: unknown) => req.destroy(err as Error),
      );
    };
    return req;
  }

  private makeResponse(req: http.IncomingMessage, socket: AdapterSocket): http.ServerResponse {
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as unknown as import("node:net").Socket);
    const self = this;
    const internals = res as unknown as ResponseInternals;
    const own = res as unknown as Record<string, unknown>;

    own.writeHead = function writeHead(this: http.ServerResponse, statusCode: number, reason?: unknown, obj?: unknown): http.ServerResponse {
      if (internals._header) {
        const err = new Error("Cannot write headers after they are sent to the client") as NodeJS.ErrnoException;
        err.code = "ERR_HTTP_HEADERS_SENT";
        throw err;
      }
      const code = statusCode | 0;
      if (code < 100 || code > 999) {
        const err = new RangeError(`Invalid status code: ${statusCode}`) as RangeError & { code: string };
        err.code = "ERR_HTTP_INVALID_STATUS_CODE";
        throw err;
      }
      if (typeof reason === "string") this.statusMessage = reason;
      else {
        this.statusMessage ||= http.STATUS_CODES[code] ?? "unknown";
        obj ??= reason;
      }
      this.statusCode = code;
      applyHeaders(this, obj);
      if (code === 204 || code === 304 || (code >= 100 && code <= 199)) internals._hasBody = false;
      self.commit(this);
      return this;
    };

    own.write = function write(this: http.ServerResponse, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
      if (typeof encoding === "function") {
        cb = encoding;
        encoding = undefined;
      }
      return self.write(this, chunk, encoding as BufferEncoding | undefined, cb as Callback | undefined, false);
    };

    own.end = function end(this: http.ServerResponse, chunk?: unknown, encoding?: unknown, cb?: unknown): http.ServerResponse {
      if (typeof chunk === "function") {
        cb = chunk;
        chunk = undefined;
      } else if (typeof encoding === "function") {
        cb = encoding;
        encoding = undefined;
      }
      if (internals.finished) {
        if (typeof cb === "function") process.nextTick(cb as Callback);
        return this;
      }
      if (!internals._header) {
        // As Node does for a body given whole to end(): a Content-Length.
        const len = chunk == null ? 0 : typeof chunk === "string" ? Buffer.byteLength(chunk, (encoding as BufferEncoding) ?? "utf8") : (chunk as Uint8Array).length;
        if (internals._hasBody && !internals._removedContLen && !this.hasHeader("content-length") && !this.hasHeader("transfer-encoding")) {
          this.setHeader("Content-Length", String(len));
        }
      }
      if (chunk != null) self.write(this, chunk, encoding as BufferEncoding | undefined, undefined, true);
      else if (!internals._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
      if (typeof cb === "function") self.endCallbacks.push(cb as Callback);
      internals.finished = true;
      self.ended = true;
      self.poke();
      return this;
    };

    own.flushHeaders = function flushHeaders(this: http.ServerResponse): void {
      if (!internals._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
    };
    // Informational responses cannot cross the gateway interface: accepted and dropped.
    own.writeContinue = function writeContinue(cb?: () => void): void {
      if (cb) process.nextTick(cb);
    };
    own.writeProcessing = function writeProcessing(cb?: () => void): void {
      if (cb) process.nextTick(cb);
    };
    own.writeEarlyHints = function writeEarlyHints(_hints: unknown, cb?: () => void): void {
      if (cb) process.nextTick(cb);
    };
    own.addTrailers = function addTrailers(): void {};
    return res;
  }

  /** start_response with the response's current status and headers. */
  private commit(res: http.ServerResponse): void {
    const internals = res as unknown as ResponseInternals;
    const pairs: [string, string][] = [];
    for (const name of (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
      if (HOP_BY_HOP.has(name.toLowerCase())) continue;
      const value = res.getHeader(name);
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) pairs.push([name, String(v)]);
      else pairs.push([name, String(value)]);
    }
    const status = `${res.statusCode} ${res.statusMessage}`;
    this.startResponse(status, pairs);
    internals._header = `HTTP/1.1 ${status}\r\n${pairs.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
    internals._headerSent = true;
  }

  private write(res: http.ServerResponse, chunk: unknown, encoding: BufferEncoding | undefined, cb: Callback | undefined, fromEnd: boolean): boolean {
    const internals = res as unknown as ResponseInternals;
    if (internals.finished && !fromEnd) {
      const err = new Error("write after end") as NodeJS.ErrnoException;
      err.code = "ERR_STREAM_WRITE_AFTER_END";
      if (cb) process.nextTick(cb, err);
      return false;
    }
    if (chunk === null) {
      const err = new TypeError("May not write null values to stream") as TypeError & { code: string };
      err.code = "ERR_STREAM_NULL_VALUES";
      throw err;
    }
    let buf: Buffer;
    if (typeof chunk === "string") buf = Buffer.from(chunk, encoding ?? "utf8");
    else if (chunk instanceof Uint8Array) buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else {
      const err = new TypeError(`The "chunk" argument must be of type string or an instance of Buffer or Uint8Array`) as TypeError & { code: string };
      err.code = "ERR_INVALID_ARG_TYPE";
      throw err;
    }
    if (!internals._header) (res as unknown as { _implicitHeader(): void })._implicitHeader();
    if (this.done || buf.length === 0 || !internals._hasBody) {
      if (cb) process.nextTick(cb);
      return true;
    }
    // Copy: the application may reuse its buffer once write() returns.
    this.queue.push({ buf: Buffer.from(buf), cb });
    this.queued += buf.length;
    this.poke();
    if (this.queued >= HIGH_WATER_MARK) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async *iterate(): AsyncGenerator<Buffer> {
    for (;;) {
      const item = this.queue.shift();
      if (item !== undefined) {
        this.queued -= item.buf.length;
        if (this.needDrain && this.queued === 0) {
          this.needDrain = false;
          process.nextTick(() => this.res.emit("drain"));
        }
        if (item.cb) process.nextTick(item.cb);
        yield item.buf;
        continue;
      }
      if (this.error !== null) throw this.error;
      if (this.ended) {
        this.complete();
        return;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The last chunk was taken: finish, then close, as a server response does. */
  private complete(): void {
    if (this.done) return;
    this.done = true;
    const res = this.res;
    const callbacks = this.endCallbacks;
    this.endCallbacks = [];
    process.nextTick(() => {
      res.emit("prefinish");
      res.emit("finish");
      for (const cb of callbacks) cb();
      res.detachSocket(this.socket as unknown as import("node:net").Socket);
      const internals = res as unknown as ResponseInternals;
      if (!internals._closed) {
        internals._closed = true;
        internals.destroyed = true;
        res.emit("close");
      }
      // An unread request body is left alone: it is already collected and simply dropped.
      this.socket.destroy();
    });
  }

  /** res.destroy(err), a rejected async listener: end the iteration with an error. */
  fail(err: unknown): void {
    if (this.done) return;
    this.error = err ?? new Error("response failed");
    this.poke();
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** The client went away (runApplication calls close()). */
  private abort(): void {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.poke();
    // The socket's close emits res 'close' (ServerResponse listens for it); req learns of the
    // abort through its own destroy.
    if (!this.req.destroyed) this.req.destroy();
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

function applyHeaders(res: http.ServerResponse, obj: unknown): void {
  if (obj == null) return;
  if (Array.isArray(obj)) {
    if (obj.length > 0 && Array.isArray(obj[0])) {
      for (const [k, v] of obj as [string, string][]) res.appendHeader(k, v);
      return;
    }
    if (obj.length % 2 !== 0) {
      const err = new TypeError("The argument 'headers' is invalid: odd number of raw header entries") as TypeError & { code: string };
      err.code = "ERR_INVALID_ARG_VALUE";
      throw err;
    }
    for (let i = 0; i < obj.length; i += 2) res.appendHeader(String(obj[i]), obj[i + 1] as string);
    return;
  }
  if (typeof obj === "object") {
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (v !== undefined) res.setHeader(k, v as string | number | readonly string[]);
    }
  }
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function num(v: unknown): number | undefined {
  const n = typeof v === "string" || typeof v === "number" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}
