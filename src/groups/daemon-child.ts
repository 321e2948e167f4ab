/**
 * The main of a daemon process (one process of a WSGIDaemonProcess group). Started by the
 * supervisor with `fork`, it listens on its own Unix socket, takes one request per connection
 * at a time (connections are reused), and runs each in its ApplicationHost. Control messages
 * (preload, shutdown, log lines) go over the fork IPC channel: they are not on the hot path.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import type { ApplicationHost } from "./types";
import type { HeaderPair, RequestBody, ResponseSink } from "../http/types";
import type { LogLevel } from "../log/error-log";
import type { LogOrigin, OriginErrorLog } from "../log/apache-error-log";
import { routeStdio } from "../log/console-redirect";
import { createDaemonHost } from "./daemon-host";
import {
  Frame,
  FrameReader,
  dataFrame,
  decodeHead,
  emptyFrame,
  encodeResponseHead,
  type WireRequest,
} from "./daemon-protocol";

/** Passed by the supervisor in NODEWSGI_DAEMON_INIT. */
export interface ChildInit {
  group: string;
  socketPath: string;
  /** The group's `threads`: requests this process may run at once. */
  threads: number;
  displayName?: string;
}

/** Messages from the supervisor. */
export type ToChild =
  | { t: "preload"; id: number; script: string; callable: string; group: string }
  | { t: "shutdown" };

/** Messages to the supervisor. */
export type FromChild =
  | { t: "listening" }
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

/** µs since the epoch, as mod_wsgi's `*_start` environ keys. */
function nowMicros(): string {
  return String(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

/** The RequestBody the application sees, fed by BODY frames. */
class WireBody implements RequestBody {
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private onChunk: ((chunk: Uint8Array, last: boolean) => void) | null = null;
  private paused = false;

  constructor(
    readonly declaredLength: number,
    readonly chunked: boolean,
    private readonly socket: net.Socket,
  ) {}

  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void {
    this.onChunk = onChunk;
    this.flush();
    // push() may have paused the socket while nobody was reading (a slow script load): the
    // queue is drained now, so let the rest of the body in.
    if (!this.paused && this.queued < QUEUE_HIGH) this.socket.resume();
  }
  pause(): void {
    this.paused = true;
    this.socket.pause();
  }
  resume(): void {
    this.paused = false;
    this.flush();
    if (!this.paused && this.queued < QUEUE_HIGH) this.socket.resume();
  }

  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.flush();
    // Not started yet, or paused: stop reading the socket so the supervisor feels it.
    if (this.queued >= QUEUE_HIGH) this.socket.pause();
  }
  end(): void {
    this.ended = true;
    this.flush();
  }

  private flush(): void {
    if (!this.onChunk) return;
    while (!this.paused && this.queue.length > 0) {
      const c = this.queue.shift()!;
      this.queued -= c.length;
      this.onChunk(c, this.ended && this.queue.length === 0);
      if (this.ended && this.queue.length === 0) {
        this.onChunk = null;
        return;
      }
    }
    if (!this.paused && this.ended && this.queue.length === 0 && this.onChunk) {
      const cb = this.onChunk;
      this.onChunk = null;
      cb(new Uint8Array(0), true);
    }
  }
}

const QUEUE_HIGH = 256 * 1024;

/** The ResponseSink the application writes to: frames on the connection. */
class WireSink implements ResponseSink {
  aborted = false;
  private abortCbs: (() => void)[] = [];
  ended = false;

  constructor(private readonly socket: net.Socket, private readonly onEnd: () => void) {}

  onAbort(cb: () => void): void {
    if (this.aborted) cb();
    else this.abortCbs.push(cb);
  }
  abort(): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    for (const cb of this.abortCbs.splice(0)) {
      try {
        cb();
      } catch {
        /* an abort callback must not take the process down */
      }
    }
  }
  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    if (this.aborted) return;
    // The head, body and end frames of a response written in one go leave in one writev
    // (one syscall, one wake-up of the front end) rather than three.
    const socket = this.socket;
    socket.cork();
    process.nextTick(() => socket.uncork());
    socket.write(encodeResponseHead(status, reason, headers));
  }
  write(chunk: Uint8Array): boolean {
    if (this.aborted) return true;
    if (chunk.length === 0) return true;
    const parts = dataFrame(Frame.RespBody, chunk);
    if (parts.length === 1) return this.socket.write(parts[0]!);
    this.socket.cork();
    this.socket.write(parts[0]!);
    const ok = this.socket.write(parts[1]!);
    this.socket.uncork();
    return ok;
  }
  drain(): Promise<void> {
    if (this.aborted || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }
  end(chunk?: Uint8Array): void {
    if (this.aborted || this.ended) return;
    if (chunk && chunk.length > 0) this.write(chunk);
    this.ended = true;
    this.socket.write(emptyFrame(Frame.RespEnd));
    this.onEnd();
  }
  destroy(): void {
    if (this.ended) return;
    this.aborted = true;
    this.socket.destroy();
  }
}

let active = 0;
let shuttingDown = false;
let server: net.Server | null = null;

function serveConnection(socket: net.Socket, host: ApplicationHost, group: string): void {
  let body: WireBody | null = null;
  let sink: WireSink | null = null;
  /** True while a request is running or its body still arriving. */
  let busy = false;
  let responseDone = false;
  let bodyDone = false;

  const settle = () => {
    if (responseDone && bodyDone) {
      busy = false;
      busySockets.delete(socket);
      body = null;
      sink = null;
      if (shuttingDown) socket.end();
    }
  };

  const reader = new FrameReader((type, payload) => {
    switch (type) {
      case Frame.Head: {
        if (busy) throw new Error("request frame while a request is in progress");
        const wire: WireRequest = decodeHead(payload);
        busy = true;
        busySockets.add(socket);
        responseDone = false;
        bodyDone = false;
        const environ = wire.req.environ.slice();
        environ.push("mod_wsgi.daemon_start", nowMicros());
        const req = { ...wire.req, environ };
        const b = new WireBody(wire.declaredLength, wire.chunked, socket);
        const s = new WireSink(socket, () => {
          responseDone = true;
          settle();
        });
        body = b;
        sink = s;
        active++;
        host
          .dispatch(req, b, s)
          .catch((err) => childLog.log("error", "wsgi", `daemon ${group}: dispatch failed: ${String(err)}`))
          .finally(() => {
            active--;
            if (!s.ended && !s.aborted) s.destroy();
            maybeExit();
          });
        return;
      }
      case Frame.Body:
        body?.push(payload);
        return;
      case Frame.BodyEnd:
        bodyDone = true;
        body?.end();
        settle();
        return;
      default:
        throw new Error(`unexpected frame type ${type}`);
    }
  });

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
    sockets.delete(socket);
    busySockets.delete(socket);
    // The front end went away (client abort, timeout): unblock a body reader, tell the app.
    const b = body as WireBody | null;
    const s = sink as WireSink | null;
    if (b) b.end();
    if (s) s.abort();
  });
  sockets.add(socket);
}

const sockets = new Set<net.Socket>();
/** Connections with a request in progress (the others sit idle in the supervisor pool). */
const busySockets = new Set<net.Socket>();
const childLog = new IpcErrorLog();

let exiting = false;
let hostRef: ApplicationHost | null = null;

/** Once shutting down and idle: release the host (worker threads) and exit. */
function maybeExit(): void {
  if (!shuttingDown || active > 0 || exiting) return;
  exiting = true;
  for (const s of sockets) s.end();
  const host = hostRef;
  // Nothing is in flight, so a short grace is enough; the supervisor SIGKILLs if we stall.
  void (host ? host.close(1000) : Promise.resolve()).finally(() => process.exit(0));
}

function beginShutdown(): void {
  if (shuttingDown) return;
  shuttingDown = true;
  server?.close();
  // Idle pooled connections: close them now so the supervisor stops using them.
  for (const s of sockets) if (!busySockets.has(s)) s.end();
  maybeExit();
}

function main(): void {
  const init = JSON.parse(process.env.NODEWSGI_DAEMON_INIT ?? "{}") as ChildInit;
  delete process.env.NODEWSGI_DAEMON_INIT;
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

  process.on("uncaughtException", (err) => {
    childLog.log("error", "wsgi", `daemon ${init.group}: uncaught exception: ${err && (err as Error).stack ? (err as Error).stack : String(err)}`);
  });
  process.on("unhandledRejection", (err) => {
    childLog.log("error", "wsgi", `daemon ${init.group}: unhandled rejection: ${err && (err as Error).stack ? (err as Error).stack : String(err)}`);
  });
  process.on("SIGTERM", () => beginShutdown());
  process.on("SIGINT", () => beginShutdown());
  // The supervisor is gone: nothing can reach us any more.
  process.on("disconnect", () => process.exit(0));

  process.on("message", (msg: ToChild) => {
    if (msg.t === "preload") {
      host.preload(msg.script, msg.callable, msg.group).then(
        () => send({ t: "preloaded", id: msg.id, ok: true }),
        (err) => {
          childLog.log("error", "wsgi", `mod_wsgi (pid=${process.pid}): Failed to exec script file '${msg.script}'. ${String(err && (err as Error).stack ? (err as Error).stack : err)}`);
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
  server = net.createServer((socket) => serveConnection(socket, host, init.group));
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
