/**
 * One WSGIDaemonProcess group: `processes` child Node processes owned by the front-end
 * process, each fed over one persistent Unix-socket connection (sockets in a private 0700
 * directory) that multiplexes its requests with the framed protocol of daemon-protocol.ts.
 * mod_wsgi opens a connection per request; one shared connection makes a burst of N requests
 * cost one write and one read per side instead of N of each, which is most of the hop's cost.
 *
 * The supervisor balances requests (least in flight, at most `threads` per process, a bounded
 * queue beyond that), answers failures as mod_wsgi does (503 unreachable, 504 queue/socket/
 * request timeout, 500 when a daemon dies before its headers) and recycles processes without
 * losing requests. A recycled process either keeps serving until its replacement is ready
 * (restart-interval, inactivity-timeout, memory-limit, cpu-time-limit) or stops taking requests
 * at once while the requests that arrive meanwhile wait in the queue (maximum-requests, request-
 * timeout, a touched script); either way it finishes its in-flight requests within graceful-
 * timeout and is killed after shutdown-timeout. See recycle() and retire() for why each.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { fork, type ChildProcess } from "node:child_process";
import type { ApplicationHost, AppRequest } from "./types";
import type { AbortCause, HeaderPair, RequestBody, ResponseSink } from "../http/types";
import { writeErrorHead, writeHead } from "../http/write-head";
import type { ErrorLog } from "../log/error-log";
import { logFrom } from "../log/apache-error-log";
import type { DaemonProcessSpec } from "../config/model";
import type { ChildInit, FromChild, ToChild } from "./daemon-child";
import { Frame, FrameReader, MAX_FRAME, Outbox, WINDOW, nowMicros, decodeResponseHead, type HeadExtras } from "./daemon-protocol";
import { BodyDeadline } from "../http/body-read-timeout";
import { pageExtraHeaders, sendServerErrorPage } from "../static/error-page";
import { EnvironLayouts } from "./environ-codec";
import { ClientRelay } from "./credit-window";
import { NOTHING, RELEASED_BODY, RELEASED_REQUEST, RELEASED_SINK } from "./released";
import { NodewsgiError } from "../errors";
import { fsPath, textOf, toByteString } from "../engine/byte-string";
import { SETUP_FAILED_EXIT, SETUP_RETRY_MS, applyCpuPriority, chownSocket, resolveProcessSetup, type ProcessSetup } from "./process-setup";
import { scriptOwnerCheck, type ScriptOwnerCheck } from "./script-owner";
import { accountEntry } from "./account-files";
import { privilegedNodeOptions } from "./child-env";

export interface DaemonGroupOptions {
  /** Directory for this group's sockets; created 0700 if missing. */
  readonly socketDir: string;
  /** Apache's `Timeout` in seconds: what socket-timeout=0 means (default 60). */
  readonly apacheTimeout?: number;
  /** WSGIScriptReloading: restart the group when a script's mtime changes (default true). */
  readonly scriptReloading?: boolean;
  /** The child's main module (default: daemon-child.js next to this file). */
  readonly childModule?: string;
  /** Base environment of the children (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

type ChildState = "starting" | "ready" | "retiring" | "stopping" | "dead";

interface Preload {
  script: string;
  callable: string;
  group: string;
}

/** One daemon process as the supervisor sees it. */
class DaemonChild {
  state: ChildState = "starting";
  inflight = 0;
  /** Requests handed to it (maximum-requests caps this). */
  served = 0;
  /**
   * A replacement has been asked for; this one keeps serving until it is ready, unless it
   * was retired before (at maximum-requests, request-timeout).
   */
  recycling = false;
  /**
   * Started to replace a recycled process (not after a crash): while it starts, requests wait
   * for it beyond listen-backlog and connect-timeout (DaemonGroup.replacementStarting).
   */
  replacement = false;
  /** The connection carrying its requests; null until connected (and after it broke). */
  link: Link | null = null;
  readonly timers = new Set<NodeJS.Timeout>();
  /** deadlock-timeout: a heartbeat arrived since the last check, when the last one did, the checking timer. */
  heard = false;
  lastHeard = 0;
  watchdog: NodeJS.Timeout | null = null;
  inactivityTimer: NodeJS.Timeout | null = null;
  readonly pendingPreloads = new Map<number, () => void>();
  exited: Promise<void>;
  private markExited!: () => void;
  /** Preloads sent so far (index into the group's list). */
  preloadsSent = 0;

  constructor(
    readonly proc: ChildProcess,
    readonly socketPath: string,
  ) {
    this.exited = new Promise((r) => (this.markExited = r));
  }
  get pid(): number {
    return this.proc.pid ?? 0;
  }
  timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }
  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.inactivityTimer) clearTimeout(this.inactivityTimer);
    this.inactivityTimer = null;
  }
  send(msg: ToChild): boolean {
    if (!this.proc.connected) return false;
    try {
      this.proc.send(msg);
      return true;
    } catch {
      return false;
    }
  }
  died(): void {
    this.state = "dead";
    this.clearTimers();
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.link?.socket.destroy();
    for (const done of this.pendingPreloads.values()) done();
    this.pendingPreloads.clear();
    this.markExited();
  }
}

const DAEMON_KEYS = new Set([
  "mod_wsgi.process_group",
  "mod_wsgi.daemon_connects",
  "mod_wsgi.daemon_restarts",
  "mod_wsgi.queue_start",
  "mod_wsgi.daemon_start",
]);

/** How long to wait before respawning after the n-th crash in a row during startup. */
function backoffMs(crashes: number): number {
  return crashes <= 0 ? 0 : Math.min(100 * 2 ** (crashes - 1), 10_000);
}

/** mod_wsgi's line when the client's body stops arriving while it is proxied to the daemon. */
const BODY_READ_TIMED_OUT = `mod_wsgi (pid=${process.pid}): Request data read error when proxying data to daemon process: The timeout specified has expired.`;

/**
 * deadlock-timeout: how often a child's main event loop sends its heartbeat (and the supervisor
 * checks for it): a quarter of the timeout, at most once a second, so a process is found
 * blocked between deadlock-timeout and a quarter of it later. One timer per process each side.
 */
function heartbeatMs(deadlockTimeout: number): number {
  return Math.min(1000, (deadlockTimeout * 1000) / 4);
}

/** header-buffer-size=0: mod_wsgi's own header buffer. */
const DEFAULT_HEADER_BUFFER = 32768;

/** Default for startup-timeout=0: a child that never comes up must not hold requests forever. */
const DEFAULT_READY_TIMEOUT_MS = 30_000;
/**
 * Recycles are logged at warn so they show at the default LogLevel (a recycle is what an
 * operator looks for when requests slow down).
 */
const RECYCLE_LEVEL = "warn";
/** How often memory-limit and cpu-time-limit are checked. */
const RESOURCE_POLL_MS = 1000;
/**
 * How often the group checks its requests' deadlines (socket-, request-, queue- and
 * connect-timeout). One sweep per group instead of timers per request keeps setTimeout off the
 * hot path; the timeouts are whole seconds, so firing up to this much late is immaterial.
 */
const SWEEP_MS = 100;

export class DaemonGroup implements ApplicationHost {
  readonly name: string;
  private readonly children: DaemonChild[] = [];
  private readonly queue: Exchange[] = [];
  private readonly preloads: Preload[] = [];
  private readonly scriptMtimes = new Map<string, number>();
  private started = false;
  private closing = false;
  private seq = 0;
  /** Request ids on the wire (unique per group, so per connection). */
  private idSeq = 0;
  /** Requests with a deadline to watch, and the sweep that watches them while there are any. */
  private readonly live = new Set<Exchange>();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** While close() drains: the timer that kills what is left, and when it fires (hurry()). */
  private killTimer: NodeJS.Timeout | null = null;
  private killAt = 0;
  private preloadSeq = 0;
  private startupCrashes = 0;
  /** A process exited because it could not be set up: the next one starts after SETUP_RETRY_MS. */
  private setupFailed = false;
  /** The wait before the next start: a crash backoff, or SETUP_RETRY_MS after a set-up failure. */
  private respawnTimer: NodeJS.Timeout | null = null;
  private respawnAfterSetup = false;
  private resourceTimer: NodeJS.Timeout | null = null;
  private readonly childModule: string;
  private readonly uid?: number;
  private readonly gid?: number;
  /** umask, supplementary groups, cpu-priority, virtual-memory-limit, socket-user (process-setup.ts). */
  private readonly setup: ProcessSetup;
  /** script-user/script-group (null: neither set, nothing to check). */
  private readonly ownerCheck: ScriptOwnerCheck | null;
  /** Restarts of the whole group for a touched script (mod_wsgi.daemon_restarts is per request). */
  readonly multiprocess: boolean;
  readonly multithread: boolean;
  readonly runOnce: boolean;
  readonly threads: number;
  /** How sendRequest rewrites each request (extra[7] is the request's queue_start). */
  readonly headExtras: HeadExtras & { extra: string[] };
  /** Recycles so far, by reason (for tests and status pages). */
  readonly recycles = new Map<string, number>();
  /**
   * When a request counts as stuck (0: never): request-timeout scaled as mod_wsgi 6 scales its
   * per-thread watchdog, by 1 + ln(threads) (threads=1: request-timeout itself; 10: about 3.3
   * times), so a busy multithreaded process is not recycled for one genuine outlier.
   */
  private readonly requestTimeoutMs: number;
  /**
   * response-socket-timeout (0: none): how long a pushed-back piece of a response may wait for
   * the client to take it before the request is given up.
   */
  readonly responseSocketMs: number;
  /** header-buffer-size: the longest response header line accepted from a process. */
  readonly headerLineMax: number;
  /** maximum-requests (0: off). */
  private readonly maxRequests: number;
  /**
   * `served` at which a process's replacement is started ahead of its maximum (0: not ahead),
   * so that with one process the requests queued at its maximum wait less for the new one.
   */
  private readonly prespawnAt: number;

  constructor(
    readonly spec: DaemonProcessSpec,
    private readonly log: ErrorLog,
    private readonly options: DaemonGroupOptions,
  ) {
    this.name = spec.name;
    this.threads = Math.max(1, spec.threads);
    this.multiprocess = spec.processes > 1 || spec.processesExplicit;
    this.multithread = spec.threads > 1;
    this.runOnce = spec.threads === 1 && spec.maximumRequests === 1;
    this.requestTimeoutMs = spec.requestTimeout > 0 ? spec.requestTimeout * 1000 * (1 + Math.log(Math.max(1, spec.threads))) : 0;
    this.maxRequests = Math.max(0, spec.maximumRequests);
    // Only when set: it times a whole pushed-back frame (up to 256 KiB), not each send as
    // mod_wsgi's per-write default does, so by default it would cut a client that reads slowly
    // but steadily (below 256 KiB per socket-timeout).
    this.responseSocketMs = spec.responseSocketTimeout * 1000;
    this.headerLineMax = spec.headerBufferSize > 0 ? spec.headerBufferSize : DEFAULT_HEADER_BUFFER;
    // `threads` requests ahead: the process may then retire that many short of its maximum (its
    // replacement came up first), so only when it still serves at least half of it; a run-once
    // process (maximum-requests=1) never has a replacement waiting beside it.
    this.prespawnAt = this.maxRequests >= 2 * this.threads ? this.maxRequests - this.threads : 0;
    this.childModule = options.childModule ?? path.join(__dirname, "daemon-child.js");
    // The environ holds the name's bytes (the configuration's is text).
    const nameBytes = toByteString(this.name);
    this.headExtras = {
      processGroup: nameBytes,
      multiprocess: this.multiprocess,
      multithread: this.multithread,
      runOnce: this.runOnce,
      drop: DAEMON_KEYS,
      extra: [
        "mod_wsgi.process_group", nameBytes,
        // One persistent connection per process: every request is sent on its first attempt.
        "mod_wsgi.daemon_connects", "1",
        "mod_wsgi.daemon_restarts", "0",
        "mod_wsgi.queue_start", "",
      ],
    };
    const ids = resolveIds(spec, log);
    if (ids.uid !== undefined) this.uid = ids.uid;
    if (ids.gid !== undefined) this.gid = ids.gid;
    this.setup = resolveProcessSetup(spec, ids, accountEntry, log);
    this.ownerCheck = scriptOwnerCheck(spec);
    const nodeOptions = (options.env ?? process.env).NODE_OPTIONS;
    if (this.setup.init.credentials !== undefined && nodeOptions !== undefined) {
      const { dropped } = privilegedNodeOptions(nodeOptions);
      if (dropped.length > 0) {
        log.log("notice", "wsgi", `mod_wsgi: Daemon process '${this.name}': NODE_OPTIONS ${dropped.map((d) => `'${d}'`).join(", ")} not passed on: the process starts as root and switches user itself, so it would run them as root.`);
      }
    }
    fs.mkdirSync(options.socketDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(options.socketDir, 0o700);
    // A child running as another user must be able to create its socket there.
    if (this.uid !== undefined) fs.chownSync(options.socketDir, this.uid, this.gid ?? -1);
  }

  /** Spawn the processes (done on the first request otherwise). */
  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.ensureCapacity();
    if (this.spec.memoryLimit > 0 || this.spec.cpuTimeLimit > 0) {
      this.resourceTimer = setInterval(() => this.checkResources(), RESOURCE_POLL_MS);
      this.resourceTimer.unref();
    }
  }

  /** Pids of the processes currently serving (ready), for tests and status. */
  pids(): number[] {
    return this.children.filter((c) => c.state === "ready").map((c) => c.pid);
  }

  /** Resolves once `processes` children are ready (or the timeout passes). */
  async waitReady(timeoutMs = 10_000): Promise<boolean> {
    this.start();
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.children.filter((c) => c.state === "ready" && !c.recycling).length >= this.spec.processes) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  dispatch(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> {
    return new Promise<void>((resolve) => this.exchange(req, body, sink, resolve));
  }

  /** dispatch() without its promise (ApplicationHost.dispatchDetached): nothing to settle when the exchange ends. */
  dispatchDetached(req: AppRequest, body: RequestBody, sink: ResponseSink): undefined {
    this.exchange(req, body, sink, NOTHING);
    return undefined;
  }

  /** Start the request's exchange (or answer 503 when closing); `resolve` runs when it is over. */
  private exchange(req: AppRequest, body: RequestBody, sink: ResponseSink, resolve: () => void): void {
    if (this.closing) {
      if (!sink.aborted) sendServerErrorPage(sink, 503, { method: req.method });
      resolve();
      return;
    }
    if (this.ownerCheck !== null && this.refuseScript(req, sink)) {
      resolve();
      return;
    }
    this.start();
    if (this.options.scriptReloading !== false) this.checkScriptTouched(req);
    new Exchange(this, req, body, sink, resolve).begin();
  }

  /** script-user/script-group not satisfied: 403 and mod_wsgi's log line, before any process is involved. */
  private refuseScript(req: AppRequest, sink: ResponseSink): boolean {
    const why = this.ownerCheck!(req.script);
    if (why === null) return false;
    this.log.log("error", "wsgi", `${req.logPrefix}${why}: ${textOf(req.script)}`);
    if (!sink.aborted) sendServerErrorPage(sink, 403, { method: req.method });
    return true;
  }

  async preload(script: string, callable: string, applicationGroup: string): Promise<void> {
    this.preloads.push({ script, callable, group: applicationGroup });
    this.start();
    await Promise.all(this.children.filter((c) => c.state === "ready").map((c) => this.sendPreloads(c)));
  }

  /**
   * Stop the group: its processes finish what they have (SIGTERM) and are killed after
   * `graceMs`, or after eviction-timeout when non-zero and `evicting` (a graceful restart).
   */
  async close(graceMs: number, evicting = false): Promise<void> {
    graceMs = this.drainMs(graceMs, evicting);
    this.closing = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    if (this.resourceTimer) clearInterval(this.resourceTimer);
    // The sweep goes on while the processes drain: a request stuck in one still meets its
    // request-timeout (and socket- and response-socket-timeout), whatever the drain time.
    for (const ex of this.queue.splice(0)) ex.fail(503, `Daemon process '${this.name}' is shutting down`);
    const all = this.children.slice();
    for (const c of all) {
      c.clearTimers();
      if (c.state !== "dead") {
        c.state = "stopping";
        c.proc.kill("SIGTERM");
      }
    }
    this.killAt = Date.now() + Math.max(0, graceMs);
    this.killTimer = setTimeout(this.killAll, Math.max(0, graceMs));
    await Promise.all(all.map((c) => c.exited));
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    fs.rmSync(this.options.socketDir, { recursive: true, force: true });
  }

  /**
   * A close under way (a graceful restart's drain, up to eviction-timeout) ends within `graceMs`
   * from now at the latest: a server stop gives a retiring site its own budget, not the drain's.
   */
  hurry(graceMs: number): void {
    if (this.killTimer === null) return;
    const at = Date.now() + Math.max(0, graceMs);
    if (at >= this.killAt) return;
    clearTimeout(this.killTimer);
    this.killAt = at;
    this.killTimer = setTimeout(this.killAll, Math.max(0, graceMs));
  }

  /** The end of a close's drain: whatever is still running is killed. */
  private readonly killAll = (): void => {
    this.killTimer = null;
    for (const c of this.children) if (c.state !== "dead") c.proc.kill("SIGKILL");
  };

  /**
   * eviction-timeout: mod_wsgi's drain time for an explicit graceful restart (apachectl
   * graceful). nodewsgi's graceful restart (SIGHUP) gives the old site's processes the server's
   * grace period; a group with eviction-timeout gets that instead.
   */
  private drainMs(graceMs: number, evicting: boolean): number {
    return evicting && this.spec.evictionTimeout > 0 ? this.spec.evictionTimeout * 1000 : graceMs;
  }

  // ---- scheduling ----

  /** Hand the exchange a process now, or queue it. */
  acquire(ex: Exchange): void {
    const child = this.pick();
    if (child) {
      this.assign(child, ex);
      return;
    }
    if (this.queue.length >= Math.max(1, this.spec.listenBacklog) && !this.replacementStarting()) {
      ex.fail(503, `Unable to connect to WSGI daemon process '${this.name}': listener backlog limit was exceeded`);
      return;
    }
    this.queue.push(ex);
    ex.queued();
  }

  dequeue(ex: Exchange): void {
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /**
   * True when some process is up (busy or not), or a recycled one's replacement is starting: a
   * waiting request will be served eventually.
   */
  hasLiveProcess(): boolean {
    return this.children.some((c) => c.state === "ready" && c.link !== null) || this.replacementStarting();
  }

  /**
   * A recycled process's replacement is starting (and none has crashed since): requests that
   * queue meanwhile wait for it, as they wait on mod_wsgi's listener during a restart, instead
   * of being refused by listen-backlog or connect-timeout, which are for a group that cannot
   * serve. At maximum-requests with processes=1 this is the gap between the old process's
   * last request and the new one's start; their own queue-timeout still bounds the wait.
   */
  private replacementStarting(): boolean {
    return this.startupCrashes === 0 && this.children.some((c) => c.replacement && c.state === "starting");
  }

  nextId(): number {
    this.idSeq = (this.idSeq + 1) >>> 0 || 1;
    return this.idSeq;
  }

  /** Watch the exchange's deadlines until it finishes. */
  track(ex: Exchange): void {
    this.live.add(ex);
    if (this.sweepTimer === null) {
      this.sweepTimer = setInterval(this.sweep, SWEEP_MS);
      this.sweepTimer.unref();
    }
  }
  untrack(ex: Exchange): void {
    this.live.delete(ex);
  }
  private readonly sweep = (): void => {
    if (this.live.size === 0) {
      // Stopped when idle, restarted by the next request.
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      this.sweepTimer = null;
      return;
    }
    const now = Date.now();
    for (const ex of this.live) if (ex.nextDeadline <= now) ex.expire(now);
  };

  private pick(): DaemonChild | null {
    let best: DaemonChild | null = null;
    for (const c of this.children) {
      if (c.state !== "ready" || c.link === null || c.inflight >= this.threads) continue;
      if (!best || c.inflight < best.inflight) best = c;
    }
    return best;
  }

  private assign(child: DaemonChild, ex: Exchange): void {
    child.inflight++;
    child.served++;
    if (child.inactivityTimer) {
      clearTimeout(child.inactivityTimer);
      child.inactivityTimer = null;
    }
    if (this.maxRequests > 0) this.countTowardsMaximum(child);
    ex.assigned(child);
  }

  /**
   * maximum-requests: a process is handed at most that many requests. mod_wsgi 4.9 with
   * threads=1 serves exactly maximum-requests per process (and wsgi.run_once relies on it);
   * with more threads it counts completed requests and, with graceful-timeout, keeps
   * accepting until idle, so a busy process serves many more. Here the cap holds for every
   * thread count (docs/differences.md): at the maximum the process takes no more requests,
   * those that arrive wait in the queue for the replacement (or go to the other processes),
   * and it finishes what it has.
   */
  private countTowardsMaximum(child: DaemonChild): void {
    if (child.served >= this.maxRequests) {
      this.recycle(child, "maximum requests reached");
      this.retire(child);
    } else if (child.served === this.prespawnAt) {
      // Its replacement starts now; whichever comes first, the replacement being ready or
      // the maximum, retires this process.
      this.recycle(child, "maximum requests reached");
    }
  }

  /** The exchange is done with the process. */
  release(child: DaemonChild): void {
    child.inflight--;
    if (child.state === "retiring" && child.inflight === 0) this.stop(child);
    if (child.state === "ready" && child.inflight === 0 && this.spec.inactivityTimeout > 0) {
      if (child.inactivityTimer) clearTimeout(child.inactivityTimer);
      child.inactivityTimer = setTimeout(() => {
        child.inactivityTimer = null;
        if (child.inflight === 0) this.recycle(child, "inactivity timeout reached");
      }, this.spec.inactivityTimeout * 1000);
    }
    this.pump();
  }

  /** Give queued requests to processes with free threads. */
  private pump(): void {
    while (this.queue.length > 0) {
      const child = this.pick();
      if (!child) return;
      this.assign(child, this.queue.shift()!);
    }
  }

  // ---- process lifecycle ----

  /** Keep `processes` children starting or serving (recycling ones do not count). */
  private ensureCapacity(replacement = false, waited = false): void {
    if (this.closing || !this.started) return;
    if (this.respawnTimer) {
      // A set-up failure waits its SETUP_RETRY_MS even when a shorter crash backoff is pending.
      if (!this.setupFailed || this.respawnAfterSetup) return;
      clearTimeout(this.respawnTimer);
      this.respawnTimer = null;
    }
    const live = this.children.filter((c) => c.state === "starting" || (c.state === "ready" && !c.recycling)).length;
    const missing = this.spec.processes - live;
    if (missing <= 0) return;
    // Once its wait is over the start goes ahead: the count of crashes stays until a process is ready.
    const delay = waited ? 0 : this.setupFailed ? SETUP_RETRY_MS : backoffMs(this.startupCrashes);
    if (delay > 0) {
      this.respawnAfterSetup = this.setupFailed;
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = null;
        this.respawnAfterSetup = false;
        this.setupFailed = false;
        this.ensureCapacity(false, true);
      }, delay);
      this.respawnTimer.unref();
      return;
    }
    for (let i = 0; i < missing; i++) this.spawn(replacement);
  }

  private spawn(replacement: boolean): void {
    const spec = this.spec;
    const socketPath = path.join(this.options.socketDir, `c${++this.seq}.sock`);
    const init: ChildInit = { group: this.name, socketPath, threads: this.threads, ...this.setup.init };
    if (spec.deadlockTimeout > 0) init.heartbeatMs = heartbeatMs(spec.deadlockTimeout);
    if (spec.responseBufferSize > 0) init.responseWindow = spec.responseBufferSize;
    if (spec.displayName) init.displayName = spec.displayName === "%{GROUP}" ? `(wsgi:${this.name})` : spec.displayName;
    const env: NodeJS.ProcessEnv = { ...(this.options.env ?? process.env), NODEWSGI_DAEMON_INIT: JSON.stringify(init) };
    if (this.setup.init.credentials !== undefined && env.NODE_OPTIONS !== undefined) {
      // It starts as root: only options that load no code reach it (child-env.ts).
      const { kept } = privilegedNodeOptions(env.NODE_OPTIONS);
      if (kept === "") delete env.NODE_OPTIONS;
      else env.NODE_OPTIONS = kept;
    }
    if (spec.lang) env.LANG = spec.lang;
    if (spec.locale) env.LC_ALL = spec.locale;
    let proc: ChildProcess;
    try {
      const ids = this.setup.forkIds;
      proc = fork(this.childModule, [], {
        execArgv: [],
        ...this.setup.exec,
        env,
        ...(ids.uid !== undefined ? { uid: ids.uid } : {}),
        ...(ids.gid !== undefined ? { gid: ids.gid } : {}),
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
    } catch (err) {
      this.log.log("error", "wsgi", `mod_wsgi: Unable to start daemon process '${this.name}': ${(err as Error).message}`);
      this.startupCrashes++;
      this.ensureCapacity();
      return;
    }
    applyCpuPriority(this.setup, proc.pid, this.log);
    // maximum-requests is the same for every process, as in mod_wsgi (no random spread).
    const child = new DaemonChild(proc, socketPath);
    child.replacement = replacement;
    this.children.push(child);
    const readyMs = spec.startupTimeout > 0 ? spec.startupTimeout * 1000 : DEFAULT_READY_TIMEOUT_MS;
    child.timer(readyMs, () => {
      if (child.state !== "starting") return;
      this.log.log("error", "wsgi", `mod_wsgi: Daemon process '${this.name}' (pid ${child.pid}) did not start within ${readyMs / 1000} seconds, killing it`);
      proc.kill("SIGKILL");
    });
    proc.on("message", (msg: FromChild) => this.onMessage(child, msg));
    proc.on("error", (err) => {
      this.log.log("error", "wsgi", `mod_wsgi: Daemon process '${this.name}' (pid ${child.pid}): ${err.message}`);
      // A failed spawn (bad cwd, bad uid) never emits 'exit'.
      if (proc.pid === undefined && child.state !== "dead") this.onExit(child, null, null);
    });
    proc.on("exit", (code, signal) => this.onExit(child, code, signal));
    this.log.log("info", "wsgi", `mod_wsgi: Starting process '${this.name}' with pid ${child.pid}.`);
  }

  private onMessage(child: DaemonChild, msg: FromChild): void {
    switch (msg.t) {
      case "log":
        logFrom(this.log, { pid: child.pid, ...(msg.tid ? { tid: msg.tid } : {}), process: this.name }, msg.level, msg.module, msg.message);
        return;
      case "preloaded": {
        const done = child.pendingPreloads.get(msg.id);
        child.pendingPreloads.delete(msg.id);
        done?.();
        return;
      }
      case "beat":
        child.heard = true;
        return;
      case "listening":
        if (child.state !== "starting") return;
        chownSocket(this.setup, child.socketPath, this.log);
        this.connect(child);
        return;
    }
  }

  /**
   * Open the process's one connection; it is ready once connected and preloaded. If the
   * connection cannot be made, or breaks while the process is serving, the process is of no use:
   * it is killed and replaced (its requests failed as when it dies, see Link).
   */
  private connect(child: DaemonChild): void {
    const socket = net.createConnection(child.socketPath);
    socket.once("connect", () => {
      if (child.state !== "starting") {
        socket.destroy();
        return;
      }
      child.link = new Link(this, child, socket);
      // WSGIImportScript runs before the process takes requests, as in mod_wsgi.
      void this.sendPreloads(child).then(() => this.onReady(child));
    });
    socket.on("error", (err) => {
      if (child.link !== null) return;
      this.log.log("error", "wsgi", `mod_wsgi: Unable to connect to daemon process '${this.name}' (pid ${child.pid}) on '${child.socketPath}': ${err.message}`);
      if (child.state !== "dead") child.proc.kill("SIGKILL");
    });
  }

  /** The connection to a process closed: fail what it carried; a serving process is replaced. */
  linkLost(child: DaemonChild, link: Link): void {
    if (child.link === link) child.link = null;
    for (const ex of [...link.exchanges.values()]) ex.linkLost();
    link.exchanges.clear();
    for (const t of link.interrupts.values()) clearTimeout(t);
    link.interrupts.clear();
    // Usually it is dying already (the close comes before 'exit'); otherwise the connection
    // broke on a bad frame and the process cannot be reached any more. Its 'exit' respawns it.
    if (child.state === "ready" || child.state === "retiring" || child.state === "starting") child.proc.kill("SIGKILL");
  }

  private sendPreloads(child: DaemonChild): Promise<void> {
    const waits: Promise<void>[] = [];
    while (child.preloadsSent < this.preloads.length) {
      const p = this.preloads[child.preloadsSent++]!;
      const id = ++this.preloadSeq;
      waits.push(new Promise<void>((resolve) => child.pendingPreloads.set(id, resolve)));
      if (!child.send({ t: "preload", id, ...p })) child.pendingPreloads.get(id)?.();
    }
    return Promise.all(waits).then(() => undefined);
  }

  private onReady(child: DaemonChild): void {
    if (child.state !== "starting") return;
    child.clearTimers();
    child.state = "ready";
    this.startupCrashes = 0;
    if (this.spec.deadlockTimeout > 0) this.watchDeadlock(child);
    if (this.spec.restartInterval > 0) child.timer(this.spec.restartInterval * 1000, () => this.recycle(child, "restart interval reached"));
    // Spawn before retire: the oldest process waiting for a replacement can stop now.
    const old = this.children.find((c) => c.state === "ready" && c.recycling);
    if (old) this.retire(old);
    this.pump();
  }

  /**
   * Recycle a process, spawn before retire: its replacement is started and it keeps serving
   * until that is ready (onReady retires it then). This is the path for restart-interval,
   * cpu-time-limit and memory-limit, where mod_wsgi too keeps accepting requests while it waits
   * (graceful-timeout) for the process to go idle, and for inactivity-timeout, which fires only
   * on an idle process. The reasons that must not wait follow it with retire().
   */
  recycle(child: DaemonChild, reason: string): void {
    if (child.state !== "ready" || child.recycling || this.closing) return;
    child.recycling = true;
    this.noteRecycle(child, reason);
    this.ensureCapacity(true);
  }

  /** A recycle counted and logged (by reason: for tests and status pages). */
  private noteRecycle(child: DaemonChild, reason: string): void {
    this.recycles.set(reason, (this.recycles.get(reason) ?? 0) + 1);
    this.log.log(RECYCLE_LEVEL, "wsgi", `Process '${this.name}' has been recycled (${reason}), pid ${child.pid}`);
  }

  /**
   * request-timeout: the process stops taking requests before the stuck request is answered
   * (answering frees its thread, and the queue must not be handed to a process that may be
   * wedged); its replacement is started unless one already is, and the reason is logged
   * either way.
   */
  retireStuck(child: DaemonChild): void {
    if (child.state === "ready" && child.recycling) this.noteRecycle(child, "request timeout");
    else this.recycle(child, "request timeout");
    this.retire(child);
  }

  /**
   * interrupt-timeout: tell the process to abort request `id` (past request-timeout) and keep
   * one of its threads taken until it reports the application unwound (unwound()). If it does
   * not within interrupt-timeout, the process is recycled as a stuck one is without it.
   */
  interruptStuck(child: DaemonChild, link: Link, id: number): void {
    child.inflight++;
    link.out.empty(Frame.Interrupt, id);
    const t = setTimeout(() => {
      link.interrupts.delete(id);
      this.log.log("error", "wsgi", `mod_wsgi (pid=${child.pid}): Daemon process '${this.name}' did not unwind a request within interrupt-timeout of ${this.spec.interruptTimeout} seconds.`);
      this.retireStuck(child);
      this.release(child);
    }, this.spec.interruptTimeout * 1000);
    t.unref();
    link.interrupts.set(id, t);
  }

  /** INTERRUPTED: the interrupted request's application unwound in time; the process goes on. */
  unwound(child: DaemonChild, link: Link, id: number): void {
    const t = link.interrupts.get(id);
    if (t === undefined) return;
    clearTimeout(t);
    link.interrupts.delete(id);
    this.release(child);
  }

  /**
   * Stop giving the process requests; stop it once idle or when graceful-timeout expires.
   * Called when its replacement is ready, or right after recycle() (which asked for one, so
   * the queue will be served) for the reasons where mod_wsgi shuts the process down at once:
   * maximum-requests (see countTowardsMaximum) and request-timeout (an application that is
   * stuck must not be handed more requests). A touched script retires the whole group so.
   */
  retire(child: DaemonChild): void {
    if (child.state !== "ready") return;
    child.state = "retiring";
    child.clearTimers();
    if (child.inflight === 0) {
      this.stop(child);
      return;
    }
    child.timer(this.spec.gracefulTimeout * 1000, () => this.stop(child));
  }

  /** SIGTERM (the child finishes what it has), SIGKILL after shutdown-timeout. */
  private stop(child: DaemonChild): void {
    if (child.state === "stopping" || child.state === "dead") return;
    child.state = "stopping";
    child.clearTimers();
    // Frames still queued for it (aborts, credits) go before the signal.
    child.link?.out.flush();
    child.proc.kill("SIGTERM");
    child.timer(Math.max(this.spec.shutdownTimeout, 0) * 1000, () => child.proc.kill("SIGKILL"));
  }

  private onExit(child: DaemonChild, code: number | null, signal: NodeJS.Signals | null): void {
    if (child.state === "dead") return;
    const was = child.state;
    child.died();
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    try {
      fs.unlinkSync(child.socketPath);
    } catch {
      /* the child removed it, or never made it */
    }
    if (this.closing) return;
    if (was === "starting" && code === SETUP_FAILED_EXIT) {
      // It logged why; it would fail the same way at once (mod_wsgi too waits before the next).
      this.log.log("error", "wsgi", `mod_wsgi: Daemon process '${this.name}' (pid ${child.pid}) could not be set up, starting another in ${SETUP_RETRY_MS / 1000} seconds.`);
      this.startupCrashes++;
      this.setupFailed = true;
    } else if (was !== "stopping") {
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      this.log.log("error", "wsgi", `mod_wsgi: Daemon process '${this.name}' (pid ${child.pid}) died unexpectedly (${how}), restarting.`);
      if (was === "starting") this.startupCrashes++;
    }
    this.ensureCapacity();
    this.pump();
  }

  // ---- recycle triggers ----

  /**
   * deadlock-timeout: mod_wsgi restarts a process whose GIL looks deadlocked. A Node process's
   * analogue is its main event loop blocked (a synchronous endless loop, a call that never
   * returns): its heartbeat (daemon-child.ts) stops. Silent for deadlock-timeout, it is killed
   * (SIGKILL: a blocked loop never runs a SIGTERM handler) and replaced; its requests end as any
   * dying daemon's do (500 before the headers, a dropped client after).
   */
  private watchDeadlock(child: DaemonChild): void {
    const limitMs = this.spec.deadlockTimeout * 1000;
    const periodMs = heartbeatMs(this.spec.deadlockTimeout);
    // A monotonic clock (a wall-clock step is no silence), and a tick that comes late means this
    // process's own loop was blocked: the beats sent meanwhile wait unread on the channel, so
    // the silence is the supervisor's, and the count starts again.
    child.lastHeard = performance.now();
    child.heard = false;
    let lastTick = child.lastHeard;
    child.watchdog = setInterval(() => {
      const now = performance.now();
      const late = now - lastTick > 2 * periodMs;
      lastTick = now;
      if (child.heard || late) {
        child.heard = false;
        child.lastHeard = now;
        return;
      }
      if (now - child.lastHeard < limitMs || (child.state !== "ready" && child.state !== "retiring")) return;
      if (child.watchdog) clearInterval(child.watchdog);
      child.watchdog = null;
      this.log.log("info", "wsgi", `mod_wsgi (pid=${child.pid}): Daemon process deadlock timer expired, stopping process '${this.name}'.`);
      this.noteRecycle(child, "deadlock timeout");
      child.state = "stopping";
      child.clearTimers();
      child.proc.kill("SIGKILL");
      this.ensureCapacity(true);
    }, periodMs);
    child.watchdog.unref();
  }

  private checkScriptTouched(req: AppRequest): void {
    const mtime = req.scriptMtimeMs ?? statMtime(req.script);
    const seen = this.scriptMtimes.get(req.script);
    if (seen === mtime) return;
    this.scriptMtimes.set(req.script, mtime);
    if (seen === undefined) return;
    // mod_wsgi daemon mode: a modified script shuts the process down at once and the request is
    // retried on a new one. Here every process stops taking requests now (this request and those
    // after it wait in the queue for the new code) and finishes what it has.
    this.log.log("info", "wsgi", `mod_wsgi: Forcing restart of daemon process group '${this.name}' due to modification of script '${textOf(req.script)}'.`);
    for (const c of this.children.slice()) {
      if (c.state === "ready") {
        this.noteRecycle(c, "script modified");
        this.retire(c);
      } else if (c.state === "starting") {
        // It may have preloaded the old file.
        c.state = "stopping";
        c.proc.kill("SIGKILL");
      }
    }
    this.ensureCapacity(true);
  }

  private checkResources(): void {
    for (const c of this.children) {
      if (c.state !== "ready" || c.recycling || !c.pid) continue;
      const st = readProcStats(c.pid);
      if (!st) continue;
      if (this.spec.memoryLimit > 0 && st.rss > this.spec.memoryLimit) this.recycle(c, "memory limit exceeded");
      else if (this.spec.cpuTimeLimit > 0 && st.cpuSeconds > this.spec.cpuTimeLimit) this.recycle(c, "cpu time limit exceeded");
    }
  }

  // ---- helpers for Exchange ----

  get logRef(): ErrorLog {
    return this.log;
  }
  get timeoutMs(): { socket: number; queue: number; connect: number; request: number } {
    const s = this.spec;
    return {
      socket: (s.socketTimeout > 0 ? s.socketTimeout : this.options.apacheTimeout ?? 60) * 1000,
      queue: s.queueTimeout * 1000,
      connect: s.connectTimeout * 1000,
      request: this.requestTimeoutMs,
    };
  }
}

/**
 * The supervisor's end of one process's connection: an Outbox for frames to it, one
 * FrameReader for frames from it, routed to their Exchange by request id.
 */
class Link {
  readonly out: Outbox;
  readonly exchanges = new Map<number, Exchange>();
  /** interrupt-timeout: requests interrupted and not yet unwound, with their deadline timers. */
  readonly interrupts = new Map<number, NodeJS.Timeout>();
  /** Exchanges that owe the child response credit, sent once per turn with the other frames. */
  private readonly owing: Exchange[] = [];

  constructor(
    group: DaemonGroup,
    child: DaemonChild,
    readonly socket: net.Socket,
  ) {
    this.out = new Outbox(socket);
    this.out.beforeFlush = this.payCredits;
    this.out.layouts = new EnvironLayouts();
    const reader = new FrameReader((type, id, payload) => {
      const ex = this.exchanges.get(id);
      if (ex === undefined) {
        // Frames for a request already finished here (aborted, timed out) are dropped; one
        // interrupted (interrupt-timeout) reports here when its application has unwound.
        if (type === Frame.Interrupted) group.unwound(child, this, id);
        return;
      }
      try {
        ex.onFrame(type, payload);
      } catch (err) {
        // One request's failure (its sink threw) is its own: the connection and the other
        // requests on it go on, as they did with a connection per request.
        ex.fail(500, `Bad response from daemon process '${group.name}' (pid ${child.pid}): ${(err as Error)?.message ?? String(err)}`);
      }
    });
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => {
      try {
        reader.push(d);
      } catch (err) {
        group.logRef.log("error", "wsgi", `mod_wsgi: Bad response from daemon process '${group.name}' (pid ${child.pid}): ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => group.linkLost(child, this));
  }

  owe(ex: Exchange): void {
    this.owing.push(ex);
    this.out.schedule();
  }

  /**
   * Credits for the response bytes passed on this turn. A request that finished in the same
   * turn (the usual small response: head, body and end in one read) costs no credit frame.
   */
  private readonly payCredits = (): void => {
    if (this.owing.length === 0) return;
    for (const ex of this.owing) {
      if (ex.owed > 0 && !ex.isDone) this.out.credit(Frame.RespCredit, ex.id, ex.owed);
      ex.owed = 0;
    }
    this.owing.length = 0;
  };
}

/** A response frame held while the client's sink drains (RESP_BODY or RESP_END). */
interface HeldFrame {
  readonly type: number;
  readonly payload: Buffer;
}

/** The payload of the abort held for a process connection lost behind a pushed-back write. */
const LINK_LOST = Buffer.alloc(0);

/**
 * One request's trip through the group: queue, the process's connection, frames both ways.
 * Response bytes are credited to the child once the client's sink took them (ClientRelay).
 */
class Exchange extends ClientRelay<HeldFrame> {
  private done = false;
  private child: DaemonChild | null = null;
  private link: Link | null = null;
  id = 0;
  private headersSent = false;
  /** The daemon's error page was replaced by the front end's ErrorDocument: its bytes are dropped. */
  private replaced = false;
  private bodySent = false;
  private responded = false;
  /** Sent INTERRUPT (interrupt-timeout), which replaces ABORT. */
  private interrupted = false;
  private bodyStarted = false;
  /** Request body bytes sent and not yet credited by the child. */
  private bodyUnacked = 0;
  private bodyPaused = false;
  /** Response bytes passed to the client and not yet credited to the child. */
  owed = 0;
  private readonly queueStart = nowMicros();
  /** Deadlines (ms since the epoch, Infinity when off), checked by the group's sweep. */
  private headerDeadline = Infinity;
  private readDeadline = Infinity;
  private requestDeadline = Infinity;
  private queueDeadline = Infinity;
  private connectDeadline = Infinity;
  /** While a write to the client is pushed back: when the request is given up (response-socket-timeout). */
  private writeDeadline = Infinity;
  /** RequestReadTimeout body=: when the body must be complete by (from its first read, extended as bytes arrive). */
  private bodyDeadline: BodyDeadline | null = null;
  private bodyReadDeadline = Infinity;
  /** When this exchange paused the body for the child's window (that time is not the client's). */
  private pausedAt = 0;
  /** The earliest of them, so the sweep skips most exchanges with one compare. */
  nextDeadline = Infinity;

  // Not readonly: finish() points them at ./released, so a finished exchange retains nothing.
  constructor(
    private readonly group: DaemonGroup,
    private req: AppRequest,
    private body: RequestBody,
    private sink: ResponseSink,
    private resolve: () => void,
  ) {
    super();
  }

  get isDone(): boolean {
    return this.done;
  }

  begin(): void {
    this.sink.onAbort((cause) => this.abort(cause));
    if (this.sink.aborted) {
      this.finish();
      return;
    }
    // Nothing is ever left waiting: no headers within socket-timeout (Apache Timeout) is a 504.
    // The clock restarts with every body chunk forwarded, so a slow upload that keeps making
    // progress is not cut off (mod_wsgi applies the timeout per read and write).
    this.headerDeadline = Date.now() + this.group.timeoutMs.socket;
    this.nextDeadline = this.headerDeadline;
    this.group.track(this);
    this.group.acquire(this);
  }

  queued(): void {
    const t = this.group.timeoutMs;
    const now = Date.now();
    if (t.queue > 0) this.queueDeadline = now + t.queue;
    if (t.connect > 0) this.connectDeadline = now + t.connect;
    this.recompute();
  }

  private recompute(): void {
    this.nextDeadline = Math.min(this.headerDeadline, this.readDeadline, this.requestDeadline, this.queueDeadline, this.connectDeadline, this.writeDeadline, this.bodyReadDeadline);
  }

  /** Called by the sweep once `nextDeadline` has passed. */
  expire(now: number): void {
    if (this.done) return;
    const g = this.group;
    if (!this.child) {
      if (this.queueDeadline <= now) {
        this.fail(504, `Queue timeout expired for WSGI daemon process '${g.name}'.`);
        return;
      }
      if (this.connectDeadline <= now) {
        // Checked once, as mod_wsgi's connect loop gives up once: a process that is up will serve it.
        this.connectDeadline = Infinity;
        if (!g.hasLiveProcess()) {
          this.fail(503, `Unable to connect to WSGI daemon process '${g.name}': no process could be started within connect-timeout.`);
          return;
        }
      }
    }
    if (this.requestDeadline <= now) {
      if (this.child !== null && this.link !== null && g.spec.interruptTimeout > 0) this.interrupt(this.child, this.link);
      else if (this.child) g.retireStuck(this.child);
      this.fail(504, `Daemon process '${g.name}' request timeout of ${g.spec.requestTimeout} seconds exceeded: ${textOf(this.req.script)}`);
      return;
    }
    if (this.bodyReadDeadline <= now && !this.bodySent && !this.bodyPaused) {
      // The client is too slow with its body (the application's read of it fails as for a
      // client gone away: the child is sent an abort).
      this.body.readTimedOut?.();
      this.fail(408, BODY_READ_TIMED_OUT);
      return;
    }
    if (!this.headersSent && this.headerDeadline <= now) {
      // A client that stopped sending its body (not one held back here for the application)
      // is the client's fault: 408, as mod_wsgi answers it.
      if (this.bodyStarted && !this.bodySent && !this.bodyPaused) {
        this.fail(408, BODY_READ_TIMED_OUT);
        return;
      }
      this.fail(504, `Timeout when reading response headers from daemon process '${g.name}': ${textOf(this.req.script)}`);
      return;
    }
    if (this.writeDeadline <= now) {
      this.clientStalled();
      return;
    }
    if (this.headersSent && this.readDeadline <= now) {
      this.fail(0, `Timeout when reading response from daemon process '${g.name}': ${textOf(this.req.script)}`);
      return;
    }
    this.recompute();
  }

  assigned(child: DaemonChild): void {
    const link = child.link;
    if (this.done || link === null) {
      // Cannot happen (pick() only offers connected processes), but never strand a request.
      this.group.release(child);
      if (!this.done) this.fail(503, `Unable to connect to WSGI daemon process '${this.group.name}' on '${child.socketPath}'`);
      return;
    }
    this.child = child;
    this.link = link;
    this.id = this.group.nextId();
    link.exchanges.set(this.id, this);
    this.queueDeadline = this.connectDeadline = Infinity;
    const t = this.group.timeoutMs;
    if (t.request > 0) this.requestDeadline = Date.now() + t.request;
    this.recompute();
    this.sendRequest(link);
  }

  private sendRequest(link: Link): void {
    const g = this.group;
    // The request goes out as the group sees it (process group, flags, daemon environ keys),
    // rewritten while it is encoded.
    g.headExtras.extra[7] = this.queueStart;
    const out = link.out;
    const id = this.id;
    let sent: boolean;
    try {
      sent = out.head(id, { req: this.req, declaredLength: this.body.declaredLength, chunked: this.body.chunked }, g.headExtras);
    } catch (err) {
      // Its environ could not be encoded (a value that is not a string, say). The link's layouts
      // may hold values of it the child never sees: they start afresh. This request alone fails.
      out.layouts?.forgetAll();
      this.fail(500, `Request could not be passed to daemon process '${g.name}': ${(err as Error)?.message ?? err}`);
      return;
    }
    if (!sent) {
      this.fail(500, `Request too large for daemon process '${g.name}' (its environ exceeds the ${MAX_FRAME}-byte frame limit): ${textOf(this.req.script)}`);
      return;
    }
    if (this.body.declaredLength > 0 || this.body.chunked) {
      this.bodyStarted = true;
      const limit = this.body.readLimit;
      if (limit !== undefined) {
        this.bodyDeadline = new BodyDeadline(limit);
        this.bodyReadDeadline = this.bodyDeadline.at;
        this.recompute();
      }
      this.body.start((chunk, last) => {
        if (this.done) return;
        const deadline = this.bodyDeadline;
        if (deadline !== null) {
          deadline.received(chunk.length);
          this.bodyReadDeadline = last ? Infinity : deadline.at;
        }
        if (!this.headersSent) {
          this.headerDeadline = Date.now() + g.timeoutMs.socket;
          this.recompute();
        } else if (deadline !== null) this.recompute();
        if (chunk.length > 0) {
          out.data(Frame.Body, id, chunk);
          this.bodyUnacked += chunk.length;
        }
        if (last) {
          out.empty(Frame.BodyEnd, id);
          this.bodySent = true;
        } else if (this.bodyUnacked >= WINDOW && !this.bodyPaused) {
          // The child has a window's worth not yet read by the application: this client waits.
          this.bodyPaused = true;
          this.pausedAt = Date.now();
          // Not the client's time: the deadline comes back, postponed, with the child's credit
          // (left in place, a passed one would have the sweep look at this exchange every tick).
          this.bodyReadDeadline = Infinity;
          this.recompute();
          this.body.pause();
        }
      });
    } else {
      out.empty(Frame.BodyEnd, id);
      this.bodySent = true;
    }
  }

  onFrame(type: number, payload: Buffer): void {
    if (this.done) return;
    if (this.holding && (type === Frame.RespBody || type === Frame.RespEnd || type === Frame.RespAbort)) {
      // Behind a pushed-back write. A finished response frees its process now: the
      // application is done with it, only the client is still taking the bytes. So does one
      // that ended badly (a short body, an exception): what it sent before goes out first, as
      // httpd sends everything the application produced, then closes.
      if (type !== Frame.RespBody) {
        this.responded = true;
        this.detach();
      }
      this.hold({ type, payload });
      return;
    }
    const sink = this.sink;
    switch (type) {
      case Frame.RespHead: {
        const h = decodeResponseHead(payload);
        // No line can be too long in a head smaller than the limit: one compare per request.
        if (payload.length > this.group.headerLineMax && oversizedHeaderLine(h.headers, this.group.headerLineMax)) {
          this.badHead();
          return;
        }
        this.headersSent = true;
        if (!sink.aborted) {
          if (h.serverPage && sink.serverError?.(h.status, pageExtraHeaders(h.headers))) this.replaced = true;
          else (h.serverPage ? writeErrorHead : writeHead)(sink, h.status, h.reason, h.headers);
        }
        // After the headers, socket-timeout applies to each read from the daemon (and the
        // header clock is over: left in place it would keep the sweep expiring this exchange).
        this.headerDeadline = Infinity;
        this.readDeadline = Date.now() + this.group.timeoutMs.socket;
        this.recompute();
        return;
      }
      case Frame.RespBody: {
        if (sink.aborted) return;
        if (this.replaced) {
          this.credit(payload.length);
          return;
        }
        this.readDeadline = Date.now() + this.group.timeoutMs.socket;
        this.writeChunk(sink, payload);
        this.recompute();
        return;
      }
      case Frame.RespEnd:
        if (!sink.aborted && !this.replaced) sink.end();
        this.responded = true;
        this.finish();
        return;
      case Frame.RespAbort:
        this.responded = true;
        if (!this.headersSent) this.badHead();
        // The process logged why (the application's exception, a short body); nothing to add.
        else this.fail(0, null);
        return;
      case Frame.BodyCredit:
        this.bodyUnacked -= payload.readUInt32LE(0);
        if (this.bodyPaused && this.bodyUnacked < WINDOW) {
          this.bodyPaused = false;
          if (this.bodyDeadline !== null) {
            this.bodyDeadline.postpone(Date.now() - this.pausedAt);
            this.bodyReadDeadline = this.bodyDeadline.at;
            this.recompute();
          }
          this.body.resume();
        }
        return;
      default:
        this.fail(500, `Bad response frame ${type} from daemon process '${this.group.name}'`);
    }
  }

  protected apply(f: HeldFrame): void {
    this.onFrame(f.type, f.payload);
  }

  protected credit(n: number): void {
    if (this.done || this.link === null) return;
    this.owed += n;
    this.link.owe(this);
  }

  /**
   * A slow client holds back this response only (the child runs out of credit), and a daemon
   * that cannot send is not timing out.
   */
  protected override onHold(): void {
    this.readDeadline = Infinity;
    const ms = this.group.responseSocketMs;
    this.writeDeadline = ms > 0 ? Date.now() + ms : Infinity;
    this.recompute();
  }

  protected override onResume(): void {
    this.writeDeadline = Infinity;
    if (this.done) return;
    if (this.link !== null) this.readDeadline = Date.now() + this.group.timeoutMs.socket;
    this.recompute();
  }

  /**
   * response-socket-timeout: the client took nothing of the response for that long. As
   * mod_wsgi, the request is given up: the client's connection is closed and the application's
   * request aborted (detach() sends ABORT unless it had finished).
   */
  private clientStalled(): void {
    this.fail(0, `mod_wsgi (pid=${process.pid}): Failed to proxy response to client: The timeout specified has expired.`);
  }

  /**
   * interrupt-timeout: past request-timeout, only this request is interrupted (the child aborts
   * it; the caller answers 504 now); its thread stays taken until the application unwinds, and
   * the process is recycled as without interrupt-timeout only if it does not within that time.
   */
  private interrupt(child: DaemonChild, link: Link): void {
    this.group.interruptStuck(child, link, this.id);
    this.interrupted = true;
  }

  /** A response head that cannot be read or is too large: 500, as mod_wsgi answers it. */
  private badHead(): void {
    this.fail(500, `Truncated or oversized response headers received from daemon process '${this.group.name}': ${textOf(this.req.script)}`);
  }

  /** The process's connection broke: 500 before headers (as mod_wsgi answers), a dropped client after. */
  linkLost(): void {
    if (this.done) return;
    this.link = null;
    if (!this.headersSent) {
      this.badHead();
      return;
    }
    const message = `Daemon process '${this.group.name}' closed the connection mid-response: ${textOf(this.req.script)}`;
    if (!this.holding) {
      this.fail(0, message);
      return;
    }
    // What the process sent before waits behind a pushed-back write: it goes out first, then
    // the client is dropped (as the Apache child passes on what it read before the break).
    this.group.logRef.log("error", "wsgi", `${this.req.logPrefix}${message}`);
    this.responded = true;
    this.detach();
    this.hold({ type: Frame.RespAbort, payload: LINK_LOST });
  }

  /**
   * Answer with an error page (status>0, before headers) or drop the client (status 0 / after
   * headers); `message` for the error log, null when the daemon process logged the cause.
   */
  fail(status: number, message: string | null): void {
    if (this.done) return;
    if (message !== null) this.group.logRef.log("error", "wsgi", `${this.req.logPrefix}${message}`);
    // A replaced page is the front end's ErrorDocument, which finishes on its own.
    if (!this.sink.aborted && !this.replaced) {
      if (!this.headersSent && status > 0) sendServerErrorPage(this.sink, status, { method: this.req.method });
      else this.sink.destroy();
    }
    this.finish();
  }

  private abort(cause?: AbortCause): void {
    if (this.done) return;
    // As mod_wsgi's Apache child, whose write to the client timed out.
    if (cause === "send-timeout") this.group.logRef.log("error", "wsgi", `(70007)The timeout specified has expired: ${this.req.logPrefix}mod_wsgi (pid=${process.pid}): Failed to proxy response to client.`);
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.group.untrack(this);
    this.dropRelay();
    this.detach();
    // A body still arriving must keep flowing (and be dropped), or the client stalls.
    if (this.bodyStarted && !this.bodySent) this.body.resume();
    const resolve = this.resolve;
    this.req = RELEASED_REQUEST;
    this.body = RELEASED_BODY;
    this.sink = RELEASED_SINK;
    this.resolve = NOTHING;
    resolve();
  }

  /** Done with the process: its connection and its thread go back to the group. */
  private detach(): void {
    const link = this.link;
    if (link !== null) {
      link.exchanges.delete(this.id);
      // The child drops a request it can no longer answer, or whose body will not come.
      if (!this.interrupted && (!this.responded || !this.bodySent)) link.out.empty(Frame.Abort, this.id);
      this.link = null;
    }
    if (this.child) {
      const c = this.child;
      this.child = null;
      this.group.release(c);
    } else {
      this.group.dequeue(this);
    }
  }
}

/**
 * header-buffer-size: mod_wsgi reads each `Name: value` line of a daemon's response head into a
 * buffer of that size (32768 by default), two bytes of which go to the line end and its NUL, so
 * a longer line cannot be read as one header. True when some line is that long.
 */
function oversizedHeaderLine(headers: readonly HeaderPair[], max: number): boolean {
  for (const [k, v] of headers) if (Buffer.byteLength(k) + 2 + Buffer.byteLength(v) > max - 3) return true;
  return false;
}

/** `file`: a script path, a byte string (engine/byte-string.ts). */
function statMtime(file: string): number {
  const st = fs.statSync(fsPath(file), { throwIfNoEntry: false });
  return st ? st.mtimeMs : -1;
}

/** RSS (bytes) and CPU time (seconds) of a process, from /proc. */
function readProcStats(pid: number): { rss: number; cpuSeconds: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "latin1");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after the parenthesised command: utime and stime are the 12th and 13th.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(rest[11]) + Number(rest[12]);
    return { rss: m ? Number(m[1]) * 1024 : 0, cpuSeconds: ticks / 100 };
  } catch {
    return null;
  }
}

/** user=/group= to ids: only when running as root, as mod_wsgi (otherwise a notice). */
function resolveIds(spec: DaemonProcessSpec, log: ErrorLog): { uid?: number; gid?: number } {
  if (!spec.user && !spec.group) return {};
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    log.log("notice", "wsgi", `mod_wsgi: Daemon process '${spec.name}': user/group ignored, the server is not running as root.`);
    return {};
  }
  const out: { uid?: number; gid?: number } = {};
  if (spec.user) {
    const pw = accountEntry("/etc/passwd", spec.user);
    if (!pw) throw new NodewsgiError("E_DAEMON_USER", `WSGIDaemonProcess ${spec.name}: unknown user '${spec.user}'`);
    out.uid = Number(pw[2]);
    if (out.uid === 0) throw new NodewsgiError("E_DAEMON_USER", `WSGIDaemonProcess ${spec.name}: refusing to run as root (uid 0)`);
    out.gid = Number(pw[3]);
  }
  if (spec.group) {
    const gr = accountEntry("/etc/group", spec.group);
    if (!gr) throw new NodewsgiError("E_DAEMON_GROUP", `WSGIDaemonProcess ${spec.name}: unknown group '${spec.group}'`);
    out.gid = Number(gr[2]);
  }
  return out;
}

