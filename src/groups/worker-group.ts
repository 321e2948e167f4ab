/**
 * One application group in its own isolate: a worker_threads Worker fed through the
 * SharedArrayBuffer rings of ./request-queue (the front end never blocks on them).
 *
 * - Admission: at most `threads + queueCapacity` requests per group are accepted (running in
 *   the worker or waiting there); one more gets Apache's 503 page. A request whose body is still
 *   arriving is not counted (it holds nothing of the worker): it is checked on arrival and again
 *   once its body is in.
 * - Bodies are read here with collectBody before the request is handed over: up to
 *   `inlineBodyMax` bytes travel inside the request frame, larger ones are spooled to an
 *   unlinked temporary file whose descriptor the worker reads by position (threads share
 *   descriptors). The descriptor is closed here when the request is done or its worker dies.
 * - Responses stream back in frames; the worker may have at most `window` bytes per request
 *   unacknowledged, and acknowledgements are sent only once the ResponseSink took the bytes
 *   (after drain() when it pushed back), so a slow client throttles the application instead
 *   of filling memory.
 * - A client abort is sent to the worker, whose sink then fires runApplication's abort path
 *   (the result's close() runs).
 * - A worker that dies (process.exit, out of memory, a failure of the worker itself; an
 *   application's stray exception or rejection is only logged, ../log/process-faults) is
 *   logged; requests it had started get a 500 (or have their connection dropped when the
 *   head was sent), requests it had not started yet are handed to a fresh worker once. The
 *   replacement is created by the next request, so a group that dies at once cannot spin.
 */
import { BODY_IDLE_TIMEOUT_MS, SPOOL_THRESHOLD, refuseBody } from "./run-request";
import * as path from "node:path";
import { Worker, type ResourceLimits } from "node:worker_threads";
import type { AppRequest } from "./types";
import type { RequestBody, ResponseSink } from "../http/types";
import { writeErrorHead, writeHead } from "../http/write-head";
import type { ErrorLog } from "../log/error-log";
import { logFrom } from "../log/apache-error-log";
import { collectBody, type BodyBuffer } from "../app/input";
import { WRITE_TIMED_OUT } from "../app/run";
import { pageExtraHeaders, sendServerErrorPage } from "../static/error-page";
import { NodewsgiError } from "../errors";
import { NOTHING, RELEASED_REQUEST, RELEASED_SINK } from "./released";
import { RingConsumer, RingProducer, createRing } from "./request-queue";
import { ClientRelay } from "./credit-window";
import { HOOK_FAILED, type HookCall, type HookReply } from "../app/hooks";
import {
  F_ABORT, F_CREDIT, F_HOOK, F_HOOK_DONE, F_LOG, F_PRELOAD, F_PRELOADED, F_RESPONSE, R_DESTROY, R_DONE, R_END, STARTED_WORD,
  EnvironLayouts, encodeRequest, pairBound, type EncodedRequest, readPair, readResponse, writePair, writeRequest, writeSmall,
  LOG_LEVELS, type BodyRef, type DecodedResponse, type WorkerData,
} from "./queue-protocol";

export interface WorkerGroupOptions {
  /** The application group's name (as the map phase formed it, e.g. `localhost|/app`). */
  readonly name: string;
  readonly log: ErrorLog;
  /** Requests the isolate may have in flight at once (default 1). */
  readonly threads?: number;
  /** Requests that may wait beyond `threads` before the next one gets a 503 (default 100). */
  readonly queueCapacity?: number;
  /** Bytes of the front end -> worker ring (default 4 MiB; rounded up to a power of two). */
  readonly requestRingBytes?: number;
  /** Bytes of the worker -> front end ring (default 1 MiB). */
  readonly responseRingBytes?: number;
  /** Unacknowledged response bytes per request before the application sees backpressure (default 256 KiB). */
  readonly window?: number;
  /** Bodies up to this size travel inline; larger ones via a spool file (default 1 MiB, capped by the ring). */
  readonly inlineBodyMax?: number;
  /**
   * How long each side keeps polling its ring (once per event-loop turn) after it runs empty,
   * before sleeping on Atomics.waitAsync (default 0: sleep at once; env NODEWSGI_SPIN_US overrides). Saves the
   * cross-thread wake-ups under load at the cost of that much polling after a burst.
   */
  readonly spinMicros?: number;
  /** Passed to the Worker (maxOldGenerationSizeMb, ...): exceeding them kills and replaces it. */
  readonly resourceLimits?: ResourceLimits;
  /** How long a request body may stop arriving before it is answered 408 (default 60 s). */
  readonly bodyIdleMs?: number;
}

interface Instance {
  readonly worker: Worker;
  /** The worker's thread id (worker.threadId reads -1 once it has exited). */
  readonly threadId: number;
  readonly out: RingProducer;
  readonly input: RingConsumer;
  readonly requestCtl: Int32Array;
  /** The environ layouts numbered on this worker's request ring. */
  readonly layouts: EnvironLayouts;
  /** Requests handed to this worker so far (their `seq` numbers count from 0). */
  submitted: number;
  readonly preloads: Map<number, { resolve: () => void; reject: (err: Error) => void }>;
  /** Hook calls sent to this worker and not answered yet. */
  readonly hooks: Map<number, (reply: HookReply) => void>;
  error: unknown;
  exited: boolean;
}

/**
 * One request handed to the group; once finished it lets go of everything (./released). Its
 * response frames reach the client through ClientRelay: credit once the sink took the bytes.
 */
class Flight extends ClientRelay<DecodedResponse> {
  inst: Instance | null = null;
  seq = 0;
  attempts = 0;
  headersSent = false;
  ended = false;
  /** Response bytes taken by the sink and not yet credited to the worker. */
  owed = 0;

  constructor(
    readonly group: WorkerGroup,
    readonly id: number,
    public req: AppRequest,
    public sink: ResponseSink,
    public body: BodyRef,
    public bodyBuf: BodyBuffer | null,
    public resolve: () => void,
  ) {
    super();
  }

  protected apply(d: DecodedResponse): void {
    this.group.applyFrame(this, d);
  }
  protected credit(n: number): void {
    this.group.giveCredit(this, n);
  }
  write(chunk: Uint8Array): void {
    this.writeChunk(this.sink, chunk);
  }

  release(): void {
    this.req = RELEASED_REQUEST;
    this.sink = RELEASED_SINK;
    this.body = NO_BODY;
    this.bodyBuf = null;
    this.resolve = NOTHING;
    this.dropRelay();
  }
}

const DEFAULT_SPIN_MICROS = 0;
const NO_BODY: BodyRef = { length: 0, fd: -1, data: null };
/** The end of a request whose last chunk was pushed back: it waits behind that chunk. */
const DONE_FRAME: DecodedResponse = { id: 0, flags: R_DONE, head: null, chunk: null };

const WORKER_SCRIPT = path.join(__dirname, "worker-entry.js");

export class WorkerGroup {
  readonly name: string;
  readonly threads: number;
  readonly queueCapacity: number;
  private readonly log: ErrorLog;
  private readonly opts: WorkerGroupOptions;
  private readonly inlineBodyMax: number;
  private readonly bodyIdleMs: number;
  private readonly spinMicros: number;
  private current: Instance | null = null;
  private readonly flights = new Map<number, Flight>();
  private admitted = 0;
  /**
   * Of `admitted`, requests whose body is still arriving: they hold no place in the worker or
   * its queue (the body is read here), so they do not count against `threads + queueCapacity`:
   * slow uploads cannot make the group refuse everyone else.
   */
  private collecting = 0;
  private nextId = 1;
  private nextToken = 1;
  private closing = false;
  private drained: (() => void) | null = null;
  /** While close() waits for requests: shortens the wait (hurry()). */
  private hurried: ((graceMs: number) => void) | null = null;
  private readonly preloaded: [string, string][] = [];
  private readonly creditDue = new Set<Flight>();
  private creditQueued = false;

  constructor(opts: WorkerGroupOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.log = opts.log;
    this.threads = Math.max(1, Math.floor(opts.threads ?? 1));
    this.queueCapacity = Math.max(0, Math.floor(opts.queueCapacity ?? 100));
    this.spinMicros = Math.max(0, opts.spinMicros ?? (Number(process.env.NODEWSGI_SPIN_US) || DEFAULT_SPIN_MICROS));
    // The request ring must hold a frame with a full inline body plus its environ.
    let ring = 4096;
    while (ring < (opts.requestRingBytes ?? 4 << 20)) ring *= 2;
    this.inlineBodyMax = Math.min(opts.inlineBodyMax ?? SPOOL_THRESHOLD, SPOOL_THRESHOLD, ring / 4);
    this.bodyIdleMs = opts.bodyIdleMs ?? BODY_IDLE_TIMEOUT_MS;
  }

  /** Requests accepted and not yet finished. */
  get inFlight(): number {
    return this.admitted;
  }

  /** Hook calls sent to the worker and not yet answered or abandoned. */
  get hooksWaiting(): number {
    return this.current?.hooks.size ?? 0;
  }

  /** The worker's thread id, or -1 when none is running. */
  get threadId(): number {
    return this.current?.worker.threadId ?? -1;
  }

  dispatch(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    if (!this.admit(req, sink)) return undefined;
    // Not an async function: the common request (no body) costs one promise, not three.
    if (body.declaredLength > 0 || body.chunked) return this.dispatchWithBody(req, body, sink);
    return this.fly(req, sink, NO_BODY, null);
  }

  /** dispatch() without a promise for a request without a body (ApplicationHost.dispatchDetached). */
  dispatchDetached(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    if (!this.admit(req, sink)) return undefined;
    if (body.declaredLength > 0 || body.chunked) return this.dispatchWithBody(req, body, sink);
    this.launch(req, sink, NO_BODY, null, NOTHING);
    return undefined;
  }

  /** Count the request in, or answer 503 when closing or full. */
  private admit(req: AppRequest, sink: ResponseSink): boolean {
    if (this.closing || this.admitted - this.collecting >= this.threads + this.queueCapacity) {
      if (!sink.aborted) sendServerErrorPage(sink, 503, { method: req.method });
      return false;
    }
    this.admitted++;
    return true;
  }

  private async dispatchWithBody(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> {
    let bodyBuf: BodyBuffer;
    const ac = new AbortController();
    if (!sink.aborted) sink.onAbort(() => ac.abort());
    // Bodies still arriving take no thread or queue place, but each holds memory or a spool
    // file: as many at once as the group would hold requests, then 503.
    if (this.collecting >= this.threads + this.queueCapacity) {
      this.admitted--;
      this.checkDrained();
      if (!sink.aborted) sendServerErrorPage(sink, 503, { method: req.method });
      return;
    }
    this.collecting++;
    try {
      bodyBuf = await collectBody(body, { limit: req.bodyLimit, spoolThreshold: this.inlineBodyMax, signal: ac.signal, idleTimeoutMs: this.bodyIdleMs });
    } catch (err) {
      this.collecting--;
      this.admitted--;
      this.checkDrained();
      refuseBody(sink, err, req.method);
      return;
    }
    this.collecting--;
    // Its place is taken now: the group may have filled up while the body arrived.
    if (this.admitted - this.collecting > this.threads + this.queueCapacity) {
      bodyBuf.dispose();
      this.admitted--;
      this.checkDrained();
      if (!sink.aborted) sendServerErrorPage(sink, 503, { method: req.method });
      return;
    }
    await this.fly(req, sink, bodyRef(bodyBuf), bodyBuf);
  }

  /** Hand an admitted request to the worker; settles when its response is over. */
  private fly(req: AppRequest, sink: ResponseSink, ref: BodyRef, bodyBuf: BodyBuffer | null): Promise<void> {
    return new Promise<void>((resolve) => this.launch(req, sink, ref, bodyBuf, resolve));
  }

  /** Hand an admitted request to the worker; `resolve` runs when its response is over. */
  private launch(req: AppRequest, sink: ResponseSink, ref: BodyRef, bodyBuf: BodyBuffer | null, resolve: () => void): void {
    const f = new Flight(this, this.allocId(), req, sink, ref, bodyBuf, resolve);
    this.flights.set(f.id, f);
    this.submit(f);
    // After submit: an abort reported at once must find the request on its worker.
    sink.onAbort((cause) => {
      // As mod_wsgi in embedded mode (an application group of this process), whose write timed out.
      if (cause === "send-timeout") this.log.log("debug", "wsgi", f.req.logPrefix + WRITE_TIMED_OUT);
      this.aborted(f);
    });
  }

  /** Load a script in the group's isolate ahead of its first request (rejects with the load error). */
  preload(script: string, callable: string): Promise<void> {
    this.preloaded.push([script, callable]);
    return this.sendPreload(this.instance(), script, callable);
  }

  /**
   * Run a hook script function in this group's isolate (src/app/hooks.ts). Never rejects: a
   * worker that dies first, or a call too large for the ring, answers `failed` (logged).
   */
  callHook(call: HookCall, abandon?: AbortSignal): Promise<HookReply> {
    if (this.closing) return Promise.resolve(HOOK_FAILED);
    const { script, ...rest } = call;
    const payload = JSON.stringify(rest);
    const inst = this.instance();
    if (pairBound(script, payload) > inst.out.maxPayload) {
      this.log.log("error", "wsgi", `${call.logPrefix}mod_wsgi (pid=${process.pid}): Request too large for the queue of application group '${this.name}' (${pairBound(script, payload)} bytes).`);
      return Promise.resolve(HOOK_FAILED);
    }
    const token = this.nextToken++;
    return new Promise<HookReply>((resolve) => {
      inst.hooks.set(token, resolve);
      // A caller that stops waiting (a hook past Timeout) must not leave its entry behind: a
      // hook whose promise never settles would otherwise leak one per request. A late answer
      // then finds no entry and is dropped.
      abandon?.addEventListener("abort", () => {
        if (inst.hooks.delete(token)) resolve(HOOK_FAILED);
      }, { once: true });
      writePair(inst.out, F_HOOK, 0, token, script, payload);
    });
  }

  /** A close() waiting for requests in flight waits at most `graceMs` more (a server stop's budget). */
  hurry(graceMs: number): void {
    this.hurried?.(graceMs);
  }

  /** Stop admitting, wait up to `graceMs` for requests in flight, then terminate the worker. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.admitted > 0) {
      await new Promise<void>((resolve) => {
        let until = Date.now() + Math.max(0, graceMs);
        let timer = setTimeout(resolve, Math.max(0, graceMs));
        this.hurried = (ms) => {
          if (Date.now() + ms >= until) return;
          until = Date.now() + ms;
          clearTimeout(timer);
          timer = setTimeout(resolve, Math.max(0, ms));
        };
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.drained = null;
      this.hurried = null;
    }
    const inst = this.current;
    this.current = null;
    if (inst !== null && !inst.exited) {
      await inst.worker.terminate();
      // 'exit' may arrive after terminate() resolves: fail what is left now.
      this.onExit(inst, 1, null);
    }
  }

  private allocId(): number {
    let id = this.nextId;
    while (this.flights.has(id)) id = id >= 0xfffffffe ? 1 : id + 1;
    this.nextId = id >= 0xfffffffe ? 1 : id + 1;
    return id;
  }

  /** The client went away: tell the worker (the application's close() runs there). */
  private aborted(f: Flight): void {
    if (this.flights.get(f.id) === f && f.inst !== null && !f.inst.exited) writeSmall(f.inst.out, F_ABORT, f.id);
    f.clientLeft();
  }

  private submit(f: Flight): void {
    const inst = this.instance();
    let enc: EncodedRequest;
    try {
      enc = encodeRequest(f.req, inst.layouts, f.body.fd < 0 ? f.body.length : 0);
    } catch (err) {
      // A value that is not a string, say. The layouts may hold values of this request that the
      // worker never sees and would take as unchanged next time: they start afresh. This
      // request alone fails; the group keeps serving.
      inst.layouts.forgetAll();
      this.log.log("error", "wsgi", `${f.req.logPrefix}mod_wsgi (pid=${process.pid}): Request could not be passed to application group '${this.name}': ${(err as Error)?.message ?? err}`);
      return this.fail(f, 500);
    }
    if (enc.bound > inst.out.maxPayload) {
      inst.layouts.forget(enc.layout); // it recorded values the worker will not see
      this.log.log("error", "wsgi", `${f.req.logPrefix}mod_wsgi (pid=${process.pid}): Request too large for the queue of application group '${this.name}' (${enc.bound} bytes).`);
      return this.fail(f, 500);
    }
    f.inst = inst;
    f.seq = inst.submitted++;
    writeRequest(inst.out, f.id, f.req, f.body, enc);
  }

  private instance(): Instance {
    if (this.current !== null) return this.current;
    const requests = createRing(this.opts.requestRingBytes ?? 4 << 20);
    const responses = createRing(this.opts.responseRingBytes ?? 1 << 20);
    const workerData: WorkerData = { group: this.name, threads: this.threads, requests, responses, window: this.opts.window ?? 256 * 1024, spinMicros: this.spinMicros };
    const worker = new Worker(WORKER_SCRIPT, { workerData, resourceLimits: this.opts.resourceLimits });
    const inst: Instance = {
      worker,
      threadId: worker.threadId,
      out: new RingProducer(requests),
      input: null as unknown as RingConsumer,
      requestCtl: new Int32Array(requests, 0, 64),
      layouts: new EnvironLayouts(),
      submitted: 0,
      preloads: new Map(),
      hooks: new Map(),
      error: null,
      exited: false,
    };
    (inst as { input: RingConsumer }).input = new RingConsumer(
      responses,
      (b, o, len) => this.onFrame(inst, b, o, len),
      (err) => this.log.log("error", "wsgi", `mod_wsgi (pid=${process.pid}): Bad response frame from application group '${this.name}': ${(err as Error)?.stack ?? String(err)}`),
      this.spinMicros,
    );
    worker.on("error", (err) => {
      inst.error = err;
    });
    worker.on("exit", (code) => this.onExit(inst, code, inst.error));
    inst.input.start();
    this.current = inst;
    for (const [script, callable] of this.preloaded) {
      this.sendPreload(inst, script, callable).catch(() => undefined); // logged by the worker's load
    }
    return inst;
  }

  private sendPreload(inst: Instance, script: string, callable: string): Promise<void> {
    const token = this.nextToken++;
    return new Promise<void>((resolve, reject) => {
      inst.preloads.set(token, { resolve, reject });
      writePair(inst.out, F_PRELOAD, 0, token, script, callable);
    });
  }

  private onFrame(inst: Instance, b: Buffer, o: number, len: number): void {
    const type = b[o];
    if (type === F_RESPONSE) {
      const d = readResponse(b, o, len);
      const f = this.flights.get(d.id);
      if (f === undefined || f.inst !== inst) return;
      if (f.holding) f.hold(d);
      else this.applyFrame(f, d);
    } else if (type === F_LOG) {
      const p = readPair(b, o, len);
      logFrom(this.log, { tid: inst.threadId }, LOG_LEVELS[p.byte1] ?? "error", p.a, p.b);
    } else if (type === F_PRELOADED) {
      const p = readPair(b, o, len);
      const w = inst.preloads.get(p.id);
      inst.preloads.delete(p.id);
      if (w === undefined) return;
      if (p.byte1 === 1) w.resolve();
      else w.reject(new NodewsgiError("E_PRELOAD", p.b));
    } else if (type === F_HOOK_DONE) {
      const p = readPair(b, o, len);
      const answer = inst.hooks.get(p.id);
      inst.hooks.delete(p.id);
      if (answer === undefined) return;
      let reply: HookReply;
      try {
        reply = JSON.parse(p.b) as HookReply;
      } catch {
        reply = HOOK_FAILED;
      }
      answer(reply);
    }
  }

  /** Apply one response frame to the sink, in order (Flight holds frames while the sink drains). */
  applyFrame(f: Flight, d: DecodedResponse): void {
    const sink = f.sink;
    let live = !sink.aborted && !f.ended;
    if (d.head !== null && live && !f.headersSent) {
      f.headersSent = true;
      if (d.head.serverPage && sink.serverError?.(d.head.status, pageExtraHeaders(d.head.headers))) {
        // The front end answered with its ErrorDocument: the worker's canned page is dropped.
        f.ended = true;
        live = false;
      } else {
        (d.head.serverPage ? writeErrorHead : writeHead)(sink, d.head.status, d.head.reason, d.head.headers);
      }
    }
    const flags = d.flags;
    if ((flags & R_END) !== 0) {
      if (live) {
        f.ended = true;
        if (d.chunk !== null) sink.end(d.chunk);
        else sink.end();
      }
    } else if (d.chunk !== null) {
      if (live) f.write(d.chunk);
      else this.giveCredit(f, d.chunk.length);
    }
    if ((flags & R_DESTROY) !== 0 && live) {
      f.ended = true;
      sink.destroy();
    }
    if ((flags & R_DONE) !== 0) {
      if (f.holding) f.hold(DONE_FRAME);
      else this.finish(f);
    }
  }

  /** `n` response bytes are taken: the worker may send that many more (batched per checkpoint). */
  giveCredit(f: Flight, n: number): void {
    f.owed += n;
    this.creditDue.add(f);
    if (!this.creditQueued) {
      this.creditQueued = true;
      queueMicrotask(this.sendCredits);
    }
  }

  /** Acknowledgements go out once per microtask checkpoint, one frame per request. */
  private readonly sendCredits = (): void => {
    this.creditQueued = false;
    for (const f of this.creditDue) {
      if (f.owed > 0 && f.inst !== null && !f.inst.exited && this.flights.get(f.id) === f) writeSmall(f.inst.out, F_CREDIT, f.id, f.owed);
      f.owed = 0;
    }
    this.creditDue.clear();
  };

  private finish(f: Flight): void {
    if (this.flights.get(f.id) !== f) return;
    this.flights.delete(f.id);
    f.inst = null;
    f.bodyBuf?.dispose();
    this.admitted--;
    const resolve = f.resolve;
    f.release();
    resolve();
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.admitted === 0 && this.drained !== null) this.drained();
  }

  private fail(f: Flight, status: number): void {
    const sink = f.sink;
    if (!sink.aborted && !f.ended) {
      if (!f.headersSent) sendServerErrorPage(sink, status, { method: f.req.method });
      else sink.destroy();
      f.ended = true;
    }
    this.finish(f);
  }

  private onExit(inst: Instance, code: number, error: unknown): void {
    if (inst.exited) return;
    inst.exited = true;
    inst.input.drain(); // whatever the worker wrote before it died (log lines, finished responses)
    inst.input.stop();
    inst.out.close();
    if (this.current === inst) this.current = null;
    const started = Atomics.load(inst.requestCtl, STARTED_WORD);
    for (const w of inst.preloads.values()) w.reject(new NodewsgiError("E_WORKER_EXIT", `Application group '${this.name}' worker exited`));
    inst.preloads.clear();
    for (const answer of inst.hooks.values()) answer(HOOK_FAILED);
    inst.hooks.clear();
    const orphans = [...this.flights.values()].filter((f) => f.inst === inst);
    if (!this.closing) {
      const why = error instanceof Error ? error.stack ?? `${error.name}: ${error.message}` : error != null ? String(error) : `exit code ${code}`;
      const lines = `mod_wsgi (pid=${process.pid}): Application group '${this.name}' worker thread ${inst.threadId} died (${orphans.length} request(s) in flight); it is replaced on the next request.\n${why}`;
      for (const line of lines.split("\n")) this.log.log("error", "wsgi", line);
    }
    for (const f of orphans) {
      f.inst = null;
      if (this.closing) this.fail(f, 503);
      else if (f.seq >= started && f.attempts === 0 && !f.sink.aborted) {
        f.attempts++;
        this.submit(f);
      } else this.fail(f, 500);
    }
  }
}

function bodyRef(buf: BodyBuffer): BodyRef {
  // A spooled body (collectBody's file-backed buffer) is passed by descriptor, not copied.
  const fd = buf.fd;
  if (fd !== undefined && fd >= 0) return { length: buf.length, fd, data: null };
  return { length: buf.length, fd: -1, data: buf.readAt(0, buf.length) };
}
