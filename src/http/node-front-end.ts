/**
 * The node:http front end: the fallback when the uWS binary cannot load, and the choice for
 * deployments that must serve HTTP/1.0 clients or header names uWS refuses (see
 * uws-front-end.ts). Same contract, same framing checks.
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DEFAULT_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_MAX_KEEP_ALIVE_REQUESTS, DEFAULT_SEND_TIMEOUT_MS, sendTimedOutLine, type ConnectionPolicy, type FrontEnd, type FrontEndOptions, type ListenAddress, type RequestHandler } from "./front-end";
import type { AbortCause, HeaderPair, IncomingRequest, RequestBody, ResponseSink, SentListener } from "./types";
import { NodewsgiError } from "../errors";
import { checkRequestHead, defaultLimits, expectsContinue, parseDeclaredLength, splitAbsoluteForm, type RequestLimits } from "./request-checks";
import { refusalResponse, sendRefusal } from "./refusal";
import { refusedByCheck, refusedByParser, type Peer, type RefusalListener } from "./refused-request";
import { ReadHold } from "./read-hold";
import type { ErrorLog } from "../log/error-log";

export class NodeFrontEnd implements FrontEnd {
  readonly kind = "node" as const;
  private readonly servers: http.Server[] = [];
  /** Every server ever bound, to close leftover connections at the end of a drain. */
  private readonly bound: http.Server[] = [];
  private active = 0;
  private isDraining = false;
  private readonly limits: RequestLimits;
  private readonly onRefusal: RefusalListener | undefined;
  /**
   * Each socket's request under way. A parse error there must not write a second response; a
   * request pipelined behind it waits until it is done (see accept).
   */
  private readonly current = new WeakMap<Socket, NodeSink>();
  /** Refused connections (whatever else was pipelined on them is never run), and late heads. */
  private readonly marks = new WeakMap<Socket, SocketMark>();
  /** Requests pipelined behind a socket's request under way, in order (at most MAX_PIPELINED_WAITING). */
  private readonly waiting = new WeakMap<Socket, [http.IncomingMessage, http.ServerResponse][]>();
  private waitingCount = 0;
  /** Connections not read while PIPELINE_PAUSE_AT or more of their requests wait. */
  private readonly readHold = new ReadHold();
  serverHeader = "";
  /** KeepAlive Off: every response closes its connection. */
  keepAliveOff = false;
  /** Requests each connection has carried, for MaxKeepAliveRequests. */
  private readonly served = new WeakMap<Socket, number>();
  private keepAliveTimeoutMs = DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
  /** RequestReadTimeout header='s initial timeout (0: none). */
  private headersTimeoutMs = HEADERS_TIMEOUT_MS;
  private maxRequestsPerSocket = DEFAULT_MAX_KEEP_ALIVE_REQUESTS;
  /** Timeout (the main server's): a response the client takes nothing of for this long is cut (0: never). */
  sendTimeoutMs = DEFAULT_SEND_TIMEOUT_MS;
  readonly errorLog: ErrorLog | undefined;

  constructor(
    private readonly handler: RequestHandler,
    options: FrontEndOptions,
  ) {
    this.limits = options.limits ?? defaultLimits(options.maxHeaderBytes);
    this.onRefusal = options.onRefusal;
    this.errorLog = options.errorLog;
  }

  /** Requests read but not started: pipelined behind their connection's request under way. */
  get pipelinedWaiting(): number {
    return this.waitingCount;
  }

  get inFlight(): number {
    return this.active;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  set draining(on: boolean) {
    this.isDraining = on;
    if (!on) return;
    for (const s of this.bound) s.closeIdleConnections();
    this.closeLeftovers();
  }

  listen(host: string, port: number): Promise<ListenAddress> {
    const server = http.createServer(
      {
        // node counts the request line in this budget, as our own check does.
        maxHeaderSize: this.limits.headerBytes,
        keepAliveTimeout: this.keepAliveTimeoutMs,
        // A client has this long to send its header block (RequestReadTimeout header=, its
        // initial timeout: node's is one fixed value, so MinRate cannot extend it), checked every
        // few seconds: slowloris connections do not pile up.
        headersTimeout: this.headersTimeoutMs,
        connectionsCheckingInterval: 5000,
        requestTimeout: 0,
      },
      (req, res) => this.accept(req, res),
    );
    // node would answer `Expect` itself: 100 Continue at once for 100-continue, an empty 417 for
    // anything else. httpd sends 100 only when the body is read, and its own 417 page.
    server.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => this.accept(req, res));
    server.on("checkExpectation", (req: http.IncomingMessage, res: http.ServerResponse) => this.accept(req, res));
    // One more than the limit, so that a request over it is seen (node drops the excess).
    server.maxHeadersCount = this.limits.fields + 1;
    server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      if (err.code === "ERR_HTTP_REQUEST_TIMEOUT" && this.current.has(socket) && socket.writable && this.marks.get(socket) === undefined) {
        // node times a head from its first byte, read or not; httpd from when it turns to the
        // request. This one waits behind a response under way (and stays unread while the
        // connection is held): its time starts once the requests before it are done.
        this.marks.set(socket, new LateHead());
        const queue = this.waiting.get(socket);
        const last = queue !== undefined && queue.length > 0 ? queue[queue.length - 1]![1] : this.current.get(socket)!.response;
        last.once("close", () => this.timeLateHead(socket));
        return;
      }
      this.refuseUnparsed(socket, err);
    });
    return new Promise((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        reject(new NodewsgiError("E_LISTEN", `could not bind to ${host}:${port}: ${err.code ?? err.message}`, { cause: err })),
      );
      server.listen(port, host, () => {
        this.servers.push(server);
        this.bound.push(server);
        resolve({ host, port: (server.address() as AddressInfo).port });
      });
    });
  }

  setConnectionPolicy(policy: ConnectionPolicy): string[] {
    this.keepAliveOff = !policy.enabled;
    // node takes 0 as no timeout at all; httpd's 0 lets the connection go at once.
    this.keepAliveTimeoutMs = Math.max(1, policy.timeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS);
    this.maxRequestsPerSocket = policy.maxRequests ?? DEFAULT_MAX_KEEP_ALIVE_REQUESTS;
    this.sendTimeoutMs = policy.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
    this.headersTimeoutMs = policy.headerTimeoutMs ?? HEADERS_TIMEOUT_MS;
    for (const s of this.bound) {
      s.keepAliveTimeout = this.keepAliveTimeoutMs;
      s.headersTimeout = this.headersTimeoutMs;
    }
    return [];
  }

  stopListening(): void {
    for (const s of this.servers.splice(0)) {
      s.close();
      s.closeIdleConnections();
    }
  }

  /** A request node:http's parser refused (or timed out): its status page, and the connection closed. */
  private refuseUnparsed(socket: Socket, err: NodeJS.ErrnoException & { rawPacket?: Buffer }): void {
    const mark = this.marks.get(socket);
    if (!socket.writable || this.current.has(socket) || mark === REFUSED) {
      socket.destroy();
      return;
    }
    mark?.cancel?.();
    this.marks.set(socket, REFUSED);
    // The method decides only whether the page has a body (HEAD).
    const method = err.rawPacket?.subarray(0, 5).toString("latin1") === "HEAD " ? "HEAD" : "GET";
    const response = refusalResponse({ status: clientErrorStatus(err, this.limits), why: err.code ?? "" }, method);
    let head = `HTTP/1.1 ${response.status} ${response.reason}\r\n${this.serverHeader !== "" ? `Server: ${this.serverHeader}\r\n` : ""}`;
    for (const [k, v] of response.headers) head += `${k}: ${v}\r\n`;
    socket.end(Buffer.concat([Buffer.from(head + "\r\n", "latin1"), response.body ?? Buffer.alloc(0)]));
    this.onRefusal?.(refusedByParser(err.rawPacket, response, peerOf(socket), this.limits.requestLine));
  }

  /**
   * The connection turns to a request whose head node:http timed out while it waited (see the
   * clientError listener): it has the header timeout from now to come complete, or gets 408.
   */
  private timeLateHead(socket: Socket): void {
    const mark = this.marks.get(socket);
    if (!(mark instanceof LateHead) || mark.cancel !== undefined || !socket.writable) return;
    const server = (socket as Socket & { server?: http.Server }).server;
    const timer = setTimeout(() => {
      socket.off("close", cancel);
      if (this.marks.get(socket) === mark) this.marks.delete(socket);
      this.refuseUnparsed(socket, Object.assign(new Error("request head timed out"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }));
    }, server?.headersTimeout || HEADERS_TIMEOUT_MS);
    timer.unref();
    const cancel = () => clearTimeout(timer);
    socket.once("close", cancel);
    mark.cancel = () => {
      socket.off("close", cancel);
      cancel();
    };
  }

  /** The late head came complete: the next request node:http parses is that one. */
  private lateHeadArrived(socket: Socket, mark: LateHead): void {
    mark.cancel?.();
    this.marks.delete(socket);
  }

  /** The socket's request under way is done: run the first one pipelined behind it. */
  private runNext(socket: Socket): void {
    const queue = this.waiting.get(socket);
    if (queue === undefined) return;
    // The connection went away (or closes after the request before): never run what waited.
    const next = socket.writable ? queue.shift() : undefined;
    this.waitingCount -= next === undefined ? queue.length : 1;
    if (next === undefined || queue.length === 0) this.waiting.delete(socket);
    if (next === undefined) this.readHold.forget(socket);
    else if (queue.length < PIPELINE_PAUSE_AT) this.readHold.release(socket);
    if (next !== undefined) this.accept(next[0], next[1], true);
  }

  /** A request node:http parsed, or (`replay`) one that waited and whose turn it is. */
  private accept(req: http.IncomingMessage, res: http.ServerResponse, replay = false): void {
    const socket = req.socket;
    // node:http hands over pipelined requests at once (and queues their responses). httpd reads
    // a connection's next request only when the one before it is done, so requests run, finish
    // and are logged in the order they came: this one waits for the one under way.
    if (this.current.has(socket)) {
      let queue = this.waiting.get(socket);
      if (queue === undefined) this.waiting.set(socket, (queue = []));
      // Enough wait: the connection is not read until they drain, as httpd does not read it
      // while a response is under way. What one read brought is parsed whole all the same:
      // past MAX_PIPELINED_WAITING (more than a read of ordinary requests can carry) the
      // client is cut off instead.
      if (queue.length >= MAX_PIPELINED_WAITING || (queue.length >= PIPELINE_PAUSE_AT && this.waitingCount >= MAX_PIPELINED_TOTAL)) {
        socket.destroy();
        return;
      }
      queue.push([req, res]);
      this.waitingCount++;
      const mark = this.marks.get(socket);
      if (mark instanceof LateHead) this.lateHeadArrived(socket, mark);
      if (queue.length >= PIPELINE_PAUSE_AT) this.readHold.hold(socket);
      return;
    }
    const mark = this.marks.get(socket);
    if (mark !== undefined) {
      if (mark === REFUSED) {
        // Pipelined behind a refused request: never run it.
        socket.destroy();
        return;
      }
      if (!replay) this.lateHeadArrived(socket, mark);
    }
    this.active++;
    const sink = new NodeSink(req, res, this, () => {
      this.current.delete(socket);
      this.runNext(socket);
    });
    this.current.set(socket, sink);
    // MaxKeepAliveRequests: the last request a connection may carry is answered with
    // Connection: close, as httpd does. (node's own maxRequestsPerSocket answers the requests
    // after it with 503 instead of closing.)
    if (this.maxRequestsPerSocket > 0) {
      const n = (this.served.get(socket) ?? 0) + 1;
      this.served.set(socket, n);
      if (n >= this.maxRequestsPerSocket) sink.closeAfter = true;
    }
    const headers: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.push(raw[i].toLowerCase(), raw[i + 1]);

    // An HTTP/1.0 message framed by Transfer-Encoding is served (httpd reads its chunked body),
    // but its framing cannot be trusted by whatever sits in between: RFC 9112 6.1 requires
    // closing the connection after it (httpd 2.4.71 keeps it when asked: a deliberate difference).
    if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1 && req.headers["transfer-encoding"] !== undefined) sink.closeAfter = true;
    const method = req.method ?? "GET";
    const protocol = `HTTP/${req.httpVersion}`;
    let target = req.url ?? "/";
    const refusal = checkRequestHead(method, target, protocol, headers, this.limits);
    if (refusal) {
      this.marks.set(socket, REFUSED);
      const response = refusalResponse(refusal, method);
      sendRefusal(sink, response);
      this.onRefusal?.(refusedByCheck(method, target, protocol, headers, refusal, response, peerOf(socket), this.limits.requestLine));
      return;
    }
    const absolute = target.startsWith("/") ? null : splitAbsoluteForm(target);
    if (absolute) {
      // Apache serves absolute-form and takes the host from it (RFC 9112 3.2.2).
      target = absolute.target;
      const at = headers.indexOf("host");
      if (at >= 0 && at % 2 === 0) headers[at + 1] = absolute.authority;
      else headers.push("host", absolute.authority);
    }
    const declared = parseDeclaredLength(headers);
    if (expectsContinue(protocol, headers)) sink.awaitContinue();
    const request: IncomingRequest = {
      method,
      target,
      protocol,
      headers,
      remoteAddress: stripMappedPrefix(socket.remoteAddress ?? ""),
      remotePort: socket.remotePort ?? 0,
      localAddress: stripMappedPrefix(socket.localAddress ?? ""),
      localPort: socket.localPort ?? 0,
      scheme: "http",
      body: new NodeBody(req, declared.length, declared.chunked, sink),
    };
    this.handler(request, sink);
  }

  /** Called by a sink once its response is fully handed to the socket, or aborted. */
  settle(): void {
    this.active--;
    this.closeLeftovers();
  }

  private closeLeftovers(): void {
    if (this.isDraining && this.active === 0) {
      for (const s of this.bound) s.closeAllConnections();
    }
  }
}

/** A connection refused a request: whatever else was pipelined on it is never run. */
const REFUSED = 0;

/**
 * A connection with a request head node:http timed out while responses before it were under
 * way; `cancel` stops the header timeout it got once its turn came.
 */
class LateHead {
  cancel: (() => void) | undefined = undefined;
}

type SocketMark = typeof REFUSED | LateHead;

/** The status for a request node's parser refused: 414 for an endless request line. */
function clientErrorStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, limits: RequestLimits): number {
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  if (err.code !== "HPE_HEADER_OVERFLOW") return 400;
  const raw = err.rawPacket;
  if (raw) {
    const eol = raw.indexOf(10);
    if (eol < 0 || eol > limits.requestLine + 1) return 414;
  }
  return 431;
}

function peerOf(socket: Socket): Peer {
  return {
    remoteAddress: stripMappedPrefix(socket.remoteAddress ?? ""),
    remotePort: socket.remotePort ?? 0,
    localAddress: stripMappedPrefix(socket.localAddress ?? ""),
    localPort: socket.localPort ?? 0,
  };
}

function stripMappedPrefix(addr: string): string {
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}

class NodeBody implements RequestBody {
  private started = false;

  constructor(
    private readonly req: http.IncomingMessage,
    readonly declaredLength: number,
    readonly chunked: boolean,
    private readonly sink: NodeSink,
  ) {
    // Hold the stream until a consumer starts: nothing is read that nobody asked for.
    req.pause();
  }

  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void {
    if (this.started) throw new NodewsgiError("E_BODY_STARTED", "request body already being read");
    this.started = true;
    // The body is read: now is when httpd sends the 100 Continue a client waits for.
    if (this.declaredLength > 0 || this.chunked) this.sink.sendContinue();
    if (this.req.complete && this.req.readableLength === 0) {
      onChunk(new Uint8Array(0), true);
      return;
    }
    this.req.on("data", (chunk: Buffer) => onChunk(chunk, false));
    this.req.on("end", () => onChunk(new Uint8Array(0), true));
    this.req.resume();
  }

  pause(): void {
    this.req.pause();
  }

  resume(): void {
    if (this.started) this.req.resume();
  }
}

/**
 * A connection with this many requests waiting behind its response under way is not read until
 * fewer wait. Real clients pipeline a few (benchmarks 16 or so); the uWS front end refuses any
 * pipelining behind an unfinished response.
 */
const PIPELINE_PAUSE_AT = 32;

/**
 * The most requests that may wait on one connection: PIPELINE_PAUSE_AT plus what one read
 * (node:http's parser reads up to 64 KiB at a time) brings of requests of 32 bytes or more
 * (`GET /abc HTTP/1.1` with `Host: a.b` is 32). A client sending smaller ones, more than
 * 2,048 in one read, is disconnected.
 */
const MAX_PIPELINED_WAITING = PIPELINE_PAUSE_AT + (64 * 1024) / 32;

/**
 * The most requests that may wait on all connections together: each connection's parsed-ahead
 * requests cost their request and response objects (a few KB each, for 32 bytes of input), so
 * past this a connection with more than PIPELINE_PAUSE_AT waiting is cut; connections that
 * pipeline politely are never cut by it.
 */
const MAX_PIPELINED_TOTAL = 8192;

/**
 * How long a client has to send its header block by default (mod_reqtimeout's `header=20-40`,
 * its initial timeout): node:http checks it every few seconds.
 */
const HEADERS_TIMEOUT_MS = 20_000;

/** How long a response cut short may take to flush what it had sent before its socket is closed. */
const FLUSH_BEFORE_CLOSE_MS = 10_000;

/**
 * How often per Timeout a waiting response's progress is checked: a client that takes nothing is
 * cut between Timeout and Timeout + Timeout/SEND_CHECKS after the last byte the kernel took.
 * Progress is read from the socket (see NodeSink.taken), not from 'drain': node reports a write
 * done only once all of it is flushed, so a 50 MB chunk written at once would drain only at its
 * very end, however steadily the client reads it.
 */
const SEND_CHECKS = 4;

/** node's private socket fields read by NodeSink.taken (guarded: either may be missing). */
interface SocketInternals {
  _bytesDispatched?: unknown;
  _handle?: { writeQueueSize?: unknown } | null;
}

/** process.nextTick's callback for NodeSink.afterEnd (a function, not a closure per sink). */
function checkEnded(sink: NodeSink): void {
  sink.checkEnded();
}

class NodeSink implements ResponseSink {
  aborted = false;
  private finished = false;
  private settled = false;
  private abortHandlers: ((cause?: AbortCause) => void)[] = [];
  /** Why the connection was closed under the response, when the server closed it. */
  private abortCause: AbortCause | undefined = undefined;
  private readonly headOnly: boolean;
  /** `Expect: 100-continue` and no 100 sent yet: answered so, the connection closes (as httpd). */
  private continuePending = false;
  /** The connection's last request (MaxKeepAliveRequests): its response closes it. */
  closeAfter = false;
  /**
   * Data waits for the client (a write returned false, or the response ended above the
   * socket's high-water mark): the send timeout counts while this is set, and only then.
   */
  private waiting = false;
  /** 'drain' is listened to (from the first wait on). */
  private listening = false;
  /** Bytes the kernel had taken at the last check (see taken), and the time since it moved. */
  private takenMark = 0;
  private idleMs = 0;
  /** The send clock: checks progress every Timeout/SEND_CHECKS while `waiting` (made on the first wait). */
  private sendTimer: NodeJS.Timeout | null = null;
  /** This response's send timeout (its virtual host's Timeout), or -1 for the front end's. */
  private sendTimeoutMs = -1;
  /** drain() callers, and afterSent() callers (told whether the rest reached the client). */
  private drainWaiters: (() => void)[] | null = null;
  private sentWaiters: SentListener[] | null = null;

  constructor(
    req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly owner: NodeFrontEnd,
    private readonly onSettled: () => void,
  ) {
    // Settle only once the response has been handed to the socket in full, so a drain that
    // closes leftover connections never cuts a response still being flushed.
    // node emits 'finish' also when the socket is destroyed under the last write (the write's
    // callback fails): after a send timeout that is a response cut, not sent.
    res.on("finish", () => (this.abortCause === undefined ? this.settle(true) : this.closed()));
    res.on("close", () => this.closed());
    this.headOnly = req.method === "HEAD";
  }

  /**
   * The connection closed under the response: its writers are told, also when it had ended but
   * was cut by the send timeout before all of it was sent (as on uWS: mod_wsgi logs the write
   * that failed).
   */
  private closed(): void {
    if (!this.finished || (this.abortCause !== undefined && !this.aborted)) {
      this.aborted = true;
      this.finished = true;
      for (const cb of this.abortHandlers.splice(0)) cb(this.abortCause);
    }
    this.settle(false);
  }

  get response(): http.ServerResponse {
    return this.res;
  }

  /** `sent`: the response was handed to the socket in full ('finish'), not cut ('close'). */
  private settle(sent: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.waiting = false;
    if (this.sendTimer !== null) clearTimeout(this.sendTimer);
    this.wakeDrainers();
    const told = this.sentWaiters;
    this.sentWaiters = null;
    if (told !== null) for (const l of told) l.responseSent(sent);
    // The front end first (a drain may close the connection), then what the socket does next.
    this.owner.settle();
    this.onSettled();
  }

  onAbort(cb: (cause?: AbortCause) => void): void {
    if (this.aborted) cb(this.abortCause);
    else this.abortHandlers.push(cb);
  }

  /** The request carries `Expect: 100-continue`: 100 is sent when its body is read, if ever. */
  awaitContinue(): void {
    this.continuePending = true;
  }

  sendContinue(): void {
    if (!this.continuePending || this.res.headersSent) return;
    this.continuePending = false;
    this.res.writeContinue();
  }

  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    const flat: string[] = [];
    const server = this.owner.serverHeader;
    if (server === "") {
      for (const [name, value] of headers) flat.push(name, value);
    } else {
      flat.push("Server", server);
      for (const [name, value] of headers) if (name.length !== 6 || name.toLowerCase() !== "server") flat.push(name, value);
    }
    // A client still waiting for 100 Continue may or may not send its body now: httpd closes
    // the connection rather than guess (ap_set_keepalive with expecting_100 set).
    const close = this.owner.draining || this.owner.keepAliveOff || this.closeAfter || this.continuePending;
    if (close && !headers.some(([n]) => n.length === 10 && n.toLowerCase() === "connection")) flat.push("Connection", "close");
    this.res.writeHead(status, reason, flat);
  }

  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.finished || this.headOnly) return true;
    if (this.res.write(chunk)) return true;
    this.wait();
    return false;
  }

  /** A write left data waiting for the client: the send timeout counts from now. */
  private wait(): void {
    if (this.waiting) return;
    this.waiting = true;
    if (!this.listening) {
      // First wait of this response: from now on each drain ends the wait.
      this.listening = true;
      this.res.on("drain", () => this.drained());
    }
    this.takenMark = this.taken();
    this.idleMs = 0;
    if (this.sendTimer !== null) {
      this.sendTimer.refresh();
      return;
    }
    const ms = this.sendTimeoutMs >= 0 ? this.sendTimeoutMs : this.owner.sendTimeoutMs;
    if (ms <= 0) return;
    const step = Math.max(1, Math.ceil(ms / SEND_CHECKS));
    this.sendTimer = setTimeout(() => this.checkSend(ms, step), step);
    this.sendTimer.unref();
  }

  /** The socket took everything handed to it (progress): the wait is over. */
  private drained(): void {
    if (this.settled || !this.waiting) return;
    this.waiting = false;
    this.wakeDrainers();
  }

  /**
   * After res.end(): time what the client has not taken until 'finish'. Above the socket's
   * high-water mark that is known now; below it, once node has uncorked (next tick), anything
   * still queued waits for the client too (a last write the full kernel buffer cannot take would
   * otherwise hold the connection for good: no 'drain' comes to an ended response).
   */
  private afterEnd(): void {
    if (this.res.socket?.writableNeedDrain === true) this.wait();
    else process.nextTick(checkEnded, this);
  }

  /** afterEnd()'s check once node has uncorked. */
  checkEnded(): void {
    if (this.settled || this.waiting) return;
    const socket = this.res.socket;
    if (socket !== null && !socket.destroyed && socket.writableLength > 0) this.wait();
  }

  /** The send clock ticks: the client took something since the last tick, or the clock runs on. */
  private checkSend(ms: number, step: number): void {
    if (!this.waiting || this.settled) return;
    const taken = this.taken();
    if (taken !== this.takenMark) {
      this.takenMark = taken;
      this.idleMs = 0;
    } else if ((this.idleMs += step) >= ms) {
      this.sendTimedOut();
      return;
    }
    this.sendTimer!.refresh();
  }

  /**
   * How many bytes of the connection the kernel has taken: those handed to libuv less those
   * still queued in it. Both are node's private fields (stable for years, guarded all the same);
   * without them, what whole writes completed (moves only when a write finishes), or -1 (no
   * socket, nothing known: only 'drain' is progress then).
   */
  private taken(): number {
    const socket = this.res.socket;
    if (socket === null) return -1;
    const internals = socket as unknown as SocketInternals;
    const dispatched = internals._bytesDispatched;
    const queued = internals._handle?.writeQueueSize;
    if (typeof dispatched === "number" && typeof queued === "number") return dispatched - queued;
    const done = socket.bytesWritten - socket.writableLength;
    return Number.isFinite(done) ? done : -1;
  }

  /**
   * httpd's send timeout: nothing of the response was taken for Timeout seconds. The connection
   * is closed, which aborts the response as a client going away does (the application's
   * iterable is closed, a group's request aborted); logged as httpd's core output filter
   * logs it (at trace1 there, debug here).
   */
  private sendTimedOut(): void {
    const socket = this.res.socket;
    this.owner.errorLog?.log("debug", "core", sendTimedOutLine(`${stripMappedPrefix(socket?.remoteAddress ?? "")}:${socket?.remotePort ?? 0}`));
    this.abortCause = "send-timeout";
    if (socket) socket.destroy();
    else this.res.destroy();
  }

  private wakeDrainers(): void {
    const waiters = this.drainWaiters;
    if (waiters === null) return;
    this.drainWaiters = null;
    for (const w of waiters) w();
  }

  drain(): Promise<void> {
    if (this.aborted || this.settled || !this.waiting) return Promise.resolve();
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve));
  }

  setSendTimeout(ms: number): void {
    this.sendTimeoutMs = ms;
  }

  afterSent(listener: SentListener): boolean {
    if (!this.waiting || this.settled) return false;
    (this.sentWaiters ??= []).push(listener);
    return true;
  }

  end(chunk?: Uint8Array): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    if (chunk !== undefined && chunk.length > 0 && !this.headOnly) this.res.end(chunk);
    else this.res.end();
    this.afterEnd();
  }

  /**
   * Close the connection mid-response: the client sees the body cut short (the response is
   * never ended, so no final chunk). What was written may still be corked (node:http corks
   * until the next tick) or queued: it goes out first, then the socket closes, within
   * FLUSH_BEFORE_CLOSE_MS for a client that stopped reading.
   */
  destroy(): void {
    if (this.finished) return;
    this.finished = true;
    // Everything written was handed to the socket and goes out before it closes, bounded by
    // FLUSH_BEFORE_CLOSE_MS below rather than by the send clock.
    this.waiting = false;
    if (this.sendTimer !== null) clearTimeout(this.sendTimer);
    const socket = this.res.socket;
    if (!this.res.headersSent || socket === null || socket.destroyed) {
      this.res.destroy();
      return;
    }
    socket.destroySoon();
    const timer = setTimeout(() => socket.destroy(), FLUSH_BEFORE_CLOSE_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  }
}
