/**
 * The main of an application group's worker thread: one isolate, one ScriptCache, fed by the
 * request ring and answering on the response ring (./request-queue). Each request runs
 * through runRequest exactly as in the calling thread, against a RequestBody and ResponseSink
 * that stand in for the socket on the other side of the rings.
 *
 * Up to `threads` requests run at once (an async application can overlap them; a synchronous
 * one still runs them one after another, since the isolate has one JS thread). The rest wait
 * in a FIFO here; the front end bounds how many it admits.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { HeaderPair, ResponseSink } from "../http/types";
import type { ErrorLog, LogLevel } from "../log/error-log";
import { ScriptCache } from "../app/loader";
import { runCollected } from "./run-request";
import { borrowedFileBody, memoryBody, type BodyBuffer } from "../app/input";
import { RingConsumer, RingProducer } from "./request-queue";
import { CreditWindow } from "./credit-window";
import {
  F_ABORT, F_CREDIT, F_HOOK, F_HOOK_DONE, F_LOG, F_PRELOAD, F_PRELOADED, F_REQUEST, R_DESTROY, R_DONE, R_END, STARTED_WORD,
  LayoutTable, readPair, readRequest, responseHeadBound, writePair, writeResponse,
  LOG_LEVELS, type BodyRef, type DecodedRequest, type ResponseHead, type WorkerData,
} from "./queue-protocol";
import { routeStdio } from "../log/console-redirect";
import { NodewsgiError } from "../errors";
import { logProcessFaults } from "../log/process-faults";
import { HOOK_FAILED, runHook, type HookCall, type HookReply } from "../app/hooks";

const MAX_LOG_CHARS = 64 * 1024;

const data = workerData as WorkerData;
const out = new RingProducer(data.responses);
const pieceMax = Math.min(256 * 1024, out.maxPayload >> 2);

/** The ErrorLog of this thread: lines travel to the front end's ErrorLog. */
const log: ErrorLog = {
  log(level: LogLevel, module: string, message: string): void {
    const text = message.length > MAX_LOG_CHARS ? message.slice(0, MAX_LOG_CHARS) : message;
    writePair(out, F_LOG, LOG_LEVELS.indexOf(level), 0, module, text);
  },
  close(): void {},
};

// Application output (console.*, process.stdout/stderr writes) becomes error log lines, as
// mod_wsgi does with sys.stdout/sys.stderr; the front end tags them with this thread's id.
routeStdio((line) => log.log("error", "wsgi", line));
// A stray error of an application here is logged; the isolate, and the other requests in it, go on.
logProcessFaults(log, `application group '${data.group}'`);

const cache = new ScriptCache(data.group);
const threads = Math.max(1, data.threads | 0);
const sinks = new Map<number, WorkerSink>();
const layouts = new LayoutTable();
const waiting: DecodedRequest[] = [];
let waitingAt = 0;
let running = 0;

/** The response side of one request: frames on the response ring, credit-window backpressure. */
class WorkerSink extends CreditWindow implements ResponseSink {
  aborted = false;
  /** Made on first use: most requests never need it. */
  private abortCallbacks: (() => void)[] | null = null;
  private head: ResponseHead | null = null;
  private endFlags = 0;
  private endChunk: Uint8Array | null = null;
  /** The frame room the head needs (responseHeadBound). */
  private headBound = 0;

  constructor(readonly id: number) {
    super(data.window);
  }

  onAbort(cb: () => void): void {
    (this.abortCallbacks ??= []).push(cb);
  }

  writeHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    // Held until the first chunk or the end: the head and body usually share one frame.
    this.headBound = checkedHeadBound(reason, headers);
    this.head = { status, reason, headers };
  }

  /** The server's own error page: marked on the wire, the front end decides (ErrorDocument, Header always). */
  writeErrorHead(status: number, reason: string, headers: readonly HeaderPair[]): void {
    this.headBound = checkedHeadBound(reason, headers);
    this.head = { status, reason, headers, serverPage: true };
  }

  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.endFlags !== 0) return true;
    this.send(chunk, 0);
    return this.sent(chunk.length);
  }

  end(chunk?: Uint8Array): void {
    if (this.endFlags !== 0) return;
    this.endFlags = R_END;
    this.endChunk = chunk ?? null;
  }

  destroy(): void {
    if (this.endFlags !== 0) return;
    this.endFlags = R_DESTROY;
    this.releaseWindow();
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.releaseWindow();
    const callbacks = this.abortCallbacks ?? [];
    this.abortCallbacks = null;
    for (const cb of callbacks) {
      try {
        cb();
      } catch (err) {
        log.log("error", "wsgi", `Abort handler failed: ${(err as Error)?.stack ?? String(err)}`);
      }
    }
  }

  /** The request is over: the end (deferred so END and DONE travel in one frame). */
  done(): void {
    if (this.aborted) return writeResponse(out, this.id, R_DONE, null, null);
    // A request that neither ended nor destroyed (cannot happen through runRequest) is cut off.
    this.send(this.endChunk, (this.endFlags || R_DESTROY) | R_DONE);
  }

  private send(chunk: Uint8Array | null, lastFlags: number): void {
    let head = this.head;
    this.head = null;
    if (head !== null && this.headBound + pieceMax > out.maxPayload) {
      writeResponse(out, this.id, 0, head, null); // a huge head goes alone
      head = null;
    }
    const len = chunk === null ? 0 : chunk.length;
    let at = 0;
    while (len - at > pieceMax) {
      writeResponse(out, this.id, 0, head, (chunk as Uint8Array).subarray(at, at + pieceMax));
      head = null;
      at += pieceMax;
    }
    writeResponse(out, this.id, lastFlags, head, chunk === null ? null : at === 0 ? chunk : chunk.subarray(at));
  }
}

/**
 * A head too large for one frame of the response ring cannot reach the front end: refused
 * here, before anything is sent, so the gateway answers 500 for it (as a daemon process does
 * with a head over its frame size) instead of the request hanging on a failed write.
 */
function checkedHeadBound(reason: string, headers: readonly HeaderPair[]): number {
  const bound = responseHeadBound(reason, headers);
  if (bound > out.maxPayload) throw new NodewsgiError("E_HEAD_TOO_LARGE", `response headers too large for application group '${data.group}' to pass on (up to ${bound} bytes, at most ${out.maxPayload})`);
  return bound;
}

/** The body as the front-end thread collected it: inline bytes, or its spool file by descriptor. */
function collectedBody(ref: BodyRef): BodyBuffer {
  if (ref.fd >= 0) return borrowedFileBody(ref.fd, ref.length);
  return ref.data === null || ref.data.length === 0 ? NO_BODY : memoryBody(ref.data);
}

const NO_BODY = memoryBody(new Uint8Array(0));

function pump(): void {
  while (running < threads && waitingAt < waiting.length) {
    const d = waiting[waitingAt];
    waiting[waitingAt++] = undefined as unknown as DecodedRequest;
    if (waitingAt > 1024 && waitingAt * 2 > waiting.length) {
      waiting.splice(0, waitingAt);
      waitingAt = 0;
    }
    start(d);
  }
}

function start(d: DecodedRequest): void {
  // Tells the front end, should this thread die, that this request was already under way.
  Atomics.add(requests.ctl, STARTED_WORD, 1);
  const sink = sinks.get(d.id) as WorkerSink;
  if (sink.aborted) {
    finish(sink);
    return;
  }
  const body = collectedBody(d.body);
  const p = runCollected(cache, d.req, body, sink, log);
  if (p === undefined) {
    // Answered at once: the pump loop that called us goes on to the next request.
    finish(sink);
    return;
  }
  running++;
  let over = false;
  const done = (): void => {
    if (over) return;
    over = true;
    running--;
    // The front end closes the spool file on R_DONE, perhaps while the application still runs
    // (its client went away): from now on its wsgi.input reads nothing rather than whatever
    // file gets the descriptor's number next.
    body.dispose();
    finish(sink);
    pump();
  };
  // A client that goes away frees the slot at once (as the daemon supervisor frees its thread):
  // an application whose promise never settles after it (a long poll whose event never comes)
  // would otherwise hold a slot for good, and `threads` such requests the whole group.
  sink.onAbort(done);
  p.then(done, (err) => {
    log.log("error", "wsgi", `Request failed in application group '${data.group}': ${(err as Error)?.stack ?? String(err)}`);
    done();
  });
}

function finish(sink: WorkerSink): void {
  sinks.delete(sink.id);
  sink.done();
}

function onFrame(b: Buffer, o: number, len: number): void {
  switch (b[o]) {
    case F_REQUEST: {
      const d = readRequest(b, o, len, layouts);
      sinks.set(d.id, new WorkerSink(d.id));
      waiting.push(d);
      pump();
      break;
    }
    case F_ABORT:
      sinks.get(b.readUInt32LE(o + 4))?.abort();
      break;
    case F_CREDIT:
      sinks.get(b.readUInt32LE(o + 4))?.credit(b.readUInt32LE(o + 8));
      break;
    case F_PRELOAD: {
      const p = readPair(b, o, len);
      (p.b === "" ? cache.load(p.a) : cache.getCallable(p.a, p.b)).then(
        () => writePair(out, F_PRELOADED, 1, p.id, "", ""),
        (err) => writePair(out, F_PRELOADED, 0, p.id, "", (err as Error)?.message ?? String(err)),
      );
      break;
    }
    case F_HOOK: {
      // A hook script call for this application group (src/app/hooks.ts): the same ScriptCache
      // as the group's applications, so a script that is both shares its module, as in mod_wsgi.
      const p = readPair(b, o, len);
      const answer = (reply: HookReply): void => writePair(out, F_HOOK_DONE, 0, p.id, "", JSON.stringify(reply));
      let call: HookCall;
      try {
        call = { ...(JSON.parse(p.b) as Omit<HookCall, "script">), script: p.a };
      } catch (err) {
        log.log("error", "wsgi", `Bad hook call in application group '${data.group}': ${(err as Error)?.message ?? String(err)}`);
        answer(HOOK_FAILED);
        break;
      }
      runHook(cache, call, log).then(answer, () => answer(HOOK_FAILED));
      break;
    }
    default:
      log.log("error", "wsgi", `Unknown frame type ${b[o]} in application group '${data.group}'`);
  }
}

const requests = new RingConsumer(data.requests, onFrame, (err) =>
  log.log("error", "wsgi", `Bad frame in application group '${data.group}': ${(err as Error)?.stack ?? String(err)}`),
  data.spinMicros,
);
// A pending Atomics.waitAsync does not keep a thread alive; this listener does.
parentPort?.on("message", () => undefined);
requests.start();
