/**
 * The main of a daemon process (one process of a WSGIDaemonProcess group). Started by the
 * supervisor with `fork`, it listens on its own Unix socket, to which the supervisor keeps one
 * connection carrying every request sent here (multiplexed by id, daemon-protocol.ts), and runs
 * each in its ApplicationHost: at most `threads` at once, a bound the supervisor keeps. Control
 * messages (preload, shutdown, log lines) go over the fork IPC channel: not on the hot path.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import type { ApplicationHost } from "./types";
import type { HeaderPair, RequestBody, ResponseSink } from "../http/types";
import type { LogLevel } from "../log/error-log";
import type { LogOrigin, OriginErrorLog } from "../log/apache-error-log";
import { routeStdio } from "../log/console-redirect";
import { createDaemonHost } from "./daemon-host";
import { textOf } from "../engine/byte-string";
import { Frame, FrameReader, MAX_FRAME, Outbox, WINDOW, nowMicros, decodeHead } from "./daemon-protocol";
import { LayoutTable } from "./environ-codec";
import { CreditWindow } from "./credit-window";
import { SETUP_FAILED_EXIT, applyProcessInit, setupFailureLine, type ProcessInit } from "./process-setup";
import { logProcessFaults } from "../log/process-faults";

/** Passed by the supervisor in NODEWSGI_DAEMON_INIT. */
export interface ChildInit extends ProcessInit {
  group: string;
  socketPath: string;
  /** The group's `threads`: requests this process may run at once. */
  threads: number;
  displayName?: string;
  /** deadlock-timeout: send a heartbeat this often (ms) while the event loop runs. */
  heartbeatMs?: number;
  /** response-buffer-size: the per-request response credit window (default WINDOW). */
  responseWindow?: number;
}

/** Messages from the supervisor. */
export type ToChild =
  | { t: "preload"; id: number; script: string; callable: string; group: string }
  | { t: "shutdown" };

/** Messages to the supervisor. */
export type FromChild =
  | { t: "listening" }
  | { t: "beat" }
  | { t: "preloaded"; id: number; ok: boolean }
  | { t: "log"; level: LogLevel; module: string; message: string; tid?: number };

function send(msg: FromChild): void {
  if (process.connected && process.send) process.send(msg);
}

/**
 * Forwards log lines to the supervisor's ErrorLog, which writes them with this child's pid
 * and process group (stderr when the channel is gone).
 */
class IpcErrorLog implements OriginErrorLog {
  /** Standard error's own write: application output is routed into this log (main()). */
  stderrWrite: (text: string) => void = (text) => void process.stderr.write(text);

  log(level: LogLevel, module: string, message: string): void {
    this.logFrom({}, level, module, message);
  }

  /** `origin.tid`: a worker thread of this child (its lines arrive through a WorkerGroup). */
  logFrom(origin: LogOrigin, level: LogLevel, module: string, message: string): void {
    if (process.connected) send(origin.tid ? { t: "log", level, module, message, tid: origin.tid } : { t: "log", level, module, message });
    else this.stderrWrite(`[${module}:${level}] [pid ${process.pid}${origin.tid ? `:tid ${origin.tid}` : ""}] ${message}\n`);
  }

  close(): void {}
}

/**
 * The RequestBody the application sees, fed by BODY frames. At most WINDOW bytes can be queued
 * here (the front end's credit), so nothing needs pausing; consumed bytes go back as credit.
 */
class WireBody implements RequestBody {
  private queue: Buffer[] = [];
  private ended = false;
  private onChunk: ((chunk: Uint8Array, last: boolean) => void) | null = null;
  private paused = false;

  constructor(
    readonly declaredLength: number,
    readonly chunked: boolean,
    private readonly id: number,
    private readonly link: Link,
  ) {}

  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void {
    this.onChunk = onChunk;
    this.flush();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.flush();
  }

  /** `chunk` is lent for this call (the link's reader reuses its buffer): kept only as a copy. */
  push(chunk: Buffer): void {
    const cb = this.onChunk;
    if (cb !== null && !this.paused && this.queue.length === 0 && !this.ended) {
      // The reader takes it now, and RequestBody chunks are lent for the call: no copy.
      this.link.out.credit(Frame.BodyCredit, this.id, chunk.length);
      cb(chunk, false);
      return;
    }
    // Not read yet (paused, or before start): at most a window's worth waits here.
    this.queue.push(Buffer.from(chunk));
    this.flush();
  }
  end(): void {
    this.ended = true;
    this.flush();
  }

  private flush(): void {
    while (this.onChunk && !this.paused && this.queue.length > 0) {
      const c = this.queue.shift()!;
      const last = this.ended && this.queue.length === 0;
      const cb = this.onChunk;
      if (last) this.onChunk = null;
      if (!this.ended) this.link.out.credit(Frame.BodyCredit, this.id, c.length);
      cb(c, last);
    }
    if (this.onChunk && !this.paused && this.ended && this.queue.length === 0) {
      const cb = this.onChunk;
      this.onChunk = null;
      cb(new Uint8Array(0), true);
    }
  }
}

/** The ResponseSink the application writes to: frames on the shared connection. */
class WireSink extends CreditWindow implements ResponseSink {
  aborted = false;
  ended = false;
  /** Made on first use: most requests never need it. */
  private abortCbs: (() => void)[] | null = null;

  constructor(
    private readonly id: number,
    private readonly link: Link,
    private readonly onEnd: () => void,
  ) {
    super(responseWindow);
  }

  onAbort(cb: () => void): void {
    if (this.aborted) cb();
    else (this.abortCbs ??= []).push(cb);
  }
  abort(): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    this.releaseWindow();
    const cbs = this.abortCbs;
    this.abortCbs = null;
    if (cbs === null) return;
    for (const cb of cbs) {
      try {
        cb();
      } catch {
        /* an abort callback must not take the process down */
      }
    }
  }
  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    this.sendHead(status, reason, headers, false);
  }
  /** The server's own error page: marked on the wire, the front end decides (ErrorDocument, Header always). */
  writeErrorHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    this.sendHead(status, reason, headers, true);
  }
  private sendHead(status: number, reason: string, headers: readonly HeaderPair[], serverPage: boolean): void {
    if (this.aborted) return;
    if (!this.link.out.responseHead(this.id, status, reason, headers, serverPage)) {
      // Too large for one frame: this request gets a 500 (RESP_ABORT before headers), the
      // connection and the other requests on it go on.
      childLog.log("error", "wsgi", `daemon: response headers larger than ${MAX_FRAME} bytes refused`);
      this.destroy();
    }
  }
  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.ended) return true;
    if (chunk.length === 0) return this.unacked < this.window;
    this.link.out.data(Frame.RespBody, this.id, chunk);
    return this.sent(chunk.length);
  }
  end(chunk?: Uint8Array): void {
    if (this.aborted || this.ended) return;
    if (chunk && chunk.length > 0) this.write(chunk);
    this.ended = true;
    this.releaseWindow();
    this.link.out.empty(Frame.RespEnd, this.id);
    this.onEnd();
  }
  destroy(): void {
    if (this.ended || this.aborted) return;
    this.aborted = true;
    this.releaseWindow();
    this.link.out.empty(Frame.RespAbort, this.id);
    this.onEnd();
  }
}

/** One request in this process: its body, its sink, and whether both directions are done. */
interface Running {
  body: WireBody;
  sink: WireSink;
  bodyDone: boolean;
  responseDone: boolean;
  /** Its dispatch is over (the application returned, or unwound after an abort). */
  over: boolean;
  /** Set by INTERRUPT: runs when the dispatch is over. */
  onOver: (() => void) | null;
}

/** The one connection from the supervisor, carrying every request sent to this process. */
class Link {
  readonly out: Outbox;
  readonly running = new Map<number, Running>();
  /** The environ key dictionary of this connection (daemon-protocol.ts, Outbox.head). */
  private readonly layouts = new LayoutTable();

  constructor(readonly socket: net.Socket, private readonly host: ApplicationHost, private readonly group: string) {
    this.out = new Outbox(socket);
    // Borrowed payloads: a body frame is handed on (or copied) during its call, nothing else
    // keeps a payload, so frames spanning reads need no buffer of their own each.
    const reader = new FrameReader((type, id, payload) => this.onFrame(type, id, payload), true);
    socket.on("data", (d: Buffer) => {
      try {
        reader.push(d);
      } catch (err) {
        childLog.log("error", "wsgi", `daemon ${group}: bad frame from front end: ${String(err)}`);
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      links.delete(this);
      // The front end went away: tell the applications, then unblock body readers. The abort
      // comes first so a body still being collected is abandoned, not taken as complete.
      for (const r of this.running.values()) {
        r.sink.abort();
        r.body.end();
      }
      this.running.clear();
    });
  }

  private settle(id: number, r: Running): void {
    if (r.bodyDone && r.responseDone && this.running.get(id) === r) this.running.delete(id);
  }

  /**
   * interrupt-timeout: the request ran past request-timeout. It is aborted as if its client had
   * gone (the application's close() and abort callbacks run), and INTERRUPTED tells the
   * supervisor when its dispatch is over: only then is its thread free. A request already over
   * (or unknown) is answered at once.
   */
  private interrupt(id: number): void {
    const r = this.running.get(id);
    const answer = (): void => this.out.empty(Frame.Interrupted, id);
    if (r === undefined || r.over) {
      answer();
      return;
    }
    this.running.delete(id);
    r.onOver = answer;
    r.sink.abort();
    r.body.end();
  }

  private onFrame(type: number, id: number, payload: Buffer): void {
    switch (type) {
      case Frame.Head: {
        const wire = decodeHead(payload, this.layouts);
        const req = wire.req;
        req.environ.push("mod_wsgi.daemon_start", nowMicros());
        const r: Running = { body: null as unknown as WireBody, sink: null as unknown as WireSink, bodyDone: false, responseDone: false, over: false, onOver: null };
        r.body = new WireBody(wire.declaredLength, wire.chunked, id, this);
        r.sink = new WireSink(id, this, () => {
          r.responseDone = true;
          this.settle(id, r);
        });
        this.running.set(id, r);
        active++;
        const s = r.sink;
        const done = (): void => {
          active--;
          r.over = true;
          r.onOver?.();
          if (!s.ended && !s.aborted) s.destroy();
          maybeExit();
        };
        const running = this.host.dispatch(req, r.body, s);
        if (running === undefined) done();
        else {
          running.then(done, (err) => {
            childLog.log("error", "wsgi", `daemon ${this.group}: dispatch failed: ${String(err)}`);
            done();
          });
        }
        return;
      }
      case Frame.Body:
        this.running.get(id)?.body.push(payload);
        return;
      case Frame.BodyEnd: {
        const r = this.running.get(id);
        if (!r) return;
        r.bodyDone = true;
        r.body.end();
        this.settle(id, r);
        return;
      }
      case Frame.RespCredit:
        this.running.get(id)?.sink.credit(payload.readUInt32LE(0));
        return;
      case Frame.Abort: {
        const r = this.running.get(id);
        if (!r) return;
        this.running.delete(id);
        // Abort first: a body cut short must fail its reader (E_BODY_ABORTED), not end early.
        r.sink.abort();
        r.body.end();
        return;
      }
      case Frame.Interrupt:
        this.interrupt(id);
        return;
      default:
        throw new Error(`unexpected frame type ${type}`);
    }
  }
}

let active = 0;
/** Bytes of one response the application may have unacknowledged (response-buffer-size). */
let responseWindow = WINDOW;
let shuttingDown = false;
let server: net.Server | null = null;
const links = new Set<Link>();
const childLog = new IpcErrorLog();

let exiting = false;
let hostRef: ApplicationHost | null = null;

/** Once shutting down and idle: release the host (worker threads) and exit. */
function maybeExit(): void {
  if (!shuttingDown || active > 0 || exiting) return;
  exiting = true;
  for (const l of links) {
    // Whatever the last responses left in the outbox goes out before the end.
    l.out.flush();
    l.socket.end();
  }
  const host = hostRef;
  // Nothing is in flight, so a short grace is enough; the supervisor SIGKILLs if we stall.
  void (host ? host.close(1000) : Promise.resolve()).finally(() => process.exit(0));
}

function beginShutdown(): void {
  if (shuttingDown) return;
  shuttingDown = true;
  server?.close();
  // The supervisor sends nothing new once it stops us; what is running finishes first.
  // maybeExit runs from a later turn so responses written in this one are flushed.
  setImmediate(maybeExit);
}

/**
 * deadlock-timeout: one message per interval while this process's main event loop turns; the
 * supervisor replaces the process when they stop (its loop is blocked). Unref'd: it never keeps
 * an exiting process alive.
 */
function startHeartbeat(ms: number): void {
  setInterval(() => send({ t: "beat" }), ms).unref();
}

/** Exported for tests that start a child through a wrapper module (as `childModule`). */
export function main(): void {
  const init = JSON.parse(process.env.NODEWSGI_DAEMON_INIT ?? "{}") as ChildInit;
  delete process.env.NODEWSGI_DAEMON_INIT;
  try {
    applyProcessInit(init);
  } catch (err) {
    // As mod_wsgi: a daemon process that cannot take on its credentials, its identity or its
    // working directory does not run; the supervisor starts another after a delay.
    childLog.log("alert", "wsgi", setupFailureLine(err, init.group));
    const last = `mod_wsgi (pid=${process.pid}): Failure to configure the daemon process correctly and process left in unspecified state. Restarting daemon process after delay.`;
    process.exitCode = SETUP_FAILED_EXIT;
    // Exit once the log lines are on their way (IPC messages go in order).
    setTimeout(() => process.exit(SETUP_FAILED_EXIT), 2000);
    if (process.connected && process.send) process.send({ t: "log", level: "alert", module: "wsgi", message: last } satisfies FromChild, () => process.exit(SETUP_FAILED_EXIT));
    else {
      childLog.log("alert", "wsgi", last);
      process.exit(SETUP_FAILED_EXIT);
    }
    return;
  }
  if (init.displayName) {
    try {
      process.title = init.displayName;
    } catch {
      /* not settable on this platform */
    }
  }
  // Application output in this process (console.*, process.stdout/stderr) becomes error log
  // lines carrying this child's pid and group, as mod_wsgi does with sys.stdout/sys.stderr.
  childLog.stderrWrite = routeStdio((line) => childLog.log("error", "wsgi", line)).stderrWrite;
  const host = createDaemonHost(childLog, init.threads);
  hostRef = host;
  if (init.responseWindow) responseWindow = init.responseWindow;
  if (init.heartbeatMs) startHeartbeat(init.heartbeatMs);

  logProcessFaults(childLog, `daemon process '${init.group}'`);
  process.on("SIGTERM", () => beginShutdown());
  process.on("SIGINT", () => beginShutdown());
  // The supervisor is gone: nothing can reach us any more.
  process.on("disconnect", () => process.exit(0));

  process.on("message", (msg: ToChild) => {
    if (msg.t === "preload") {
      host.preload(msg.script, msg.callable, msg.group).then(
        () => send({ t: "preloaded", id: msg.id, ok: true }),
        (err) => {
          childLog.log("error", "wsgi", `mod_wsgi (pid=${process.pid}): Failed to exec script file '${textOf(msg.script)}'. ${String(err && (err as Error).stack ? (err as Error).stack : err)}`);
          send({ t: "preloaded", id: msg.id, ok: false });
        },
      );
    } else if (msg.t === "shutdown") {
      beginShutdown();
    }
  });

  try {
    fs.unlinkSync(init.socketPath);
  } catch {
    /* not there */
  }
  server = net.createServer((socket) => void links.add(new Link(socket, host, init.group)));
  server.on("error", (err) => {
    childLog.log("crit", "wsgi", `daemon ${init.group}: cannot listen on ${init.socketPath}: ${err.message}`);
    process.exit(1);
  });
  server.listen(init.socketPath, () => {
    try {
      fs.chmodSync(init.socketPath, 0o600);
    } catch {
      /* the directory is 0700 anyway */
    }
    send({ t: "listening" });
  });
}

if (require.main === module) main();
