/**
 * The application host of one process: %{GLOBAL} (application group "") runs in the calling
 * thread, every other application group in its own worker thread (WorkerGroup), created on
 * its first request or preload.
 */
import type { ApplicationHost, AppRequest } from "./types";
import type { RequestBody, ResponseSink } from "../http/types";
import type { ErrorLog } from "../log/error-log";
import type { ResourceLimits } from "node:worker_threads";
import { InThreadHost } from "./in-thread-host";
import { WorkerGroup, type WorkerGroupOptions } from "./worker-group";
import { HOOK_FAILED, type HookCall, type HookReply, type HookRunner } from "../app/hooks";

export interface ProcessHostOptions {
  readonly log: ErrorLog;
  /** Requests each worker-thread group may have in flight at once (default 1). */
  readonly threads?: number;
  /** Requests each group may queue beyond `threads` before answering 503 (default 100). */
  readonly queueCapacity?: number;
  /** Worker resource limits (memory caps); a worker exceeding them is replaced. */
  readonly resourceLimits?: ResourceLimits;
  /** How long a request body may stop arriving before it is answered 408 (Apache's Timeout; default 60 s). */
  readonly bodyIdleMs?: number;
  /** Further per-group tuning (ring sizes, response window, inline body size). */
  readonly group?: Partial<Omit<WorkerGroupOptions, "name" | "log" | "threads" | "queueCapacity" | "resourceLimits">>;
}

export class ProcessHost implements ApplicationHost, HookRunner {
  private readonly inThread: InThreadHost;
  private readonly groups = new Map<string, WorkerGroup>();
  private closing = false;

  constructor(private readonly opts: ProcessHostOptions) {
    this.inThread = new InThreadHost(opts.log, opts.bodyIdleMs);
  }

  /** The worker-thread group for `name` (created if needed); for tests and status pages. */
  group(name: string): WorkerGroup {
    let g = this.groups.get(name);
    if (g === undefined) {
      g = new WorkerGroup({
        ...this.opts.group,
        name,
        log: this.opts.log,
        threads: this.opts.threads,
        queueCapacity: this.opts.queueCapacity,
        resourceLimits: this.opts.resourceLimits,
        bodyIdleMs: this.opts.bodyIdleMs,
      });
      this.groups.set(name, g);
    }
    return g;
  }

  dispatch(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    if (req.applicationGroup === "") return this.inThread.dispatch(req, body, sink);
    const g = this.group(req.applicationGroup);
    if (this.closing) void g.close(0); // a group first seen while closing answers 503 and starts no worker
    return g.dispatch(req, body, sink);
  }

  preload(script: string, callable: string, applicationGroup: string): Promise<void> {
    if (applicationGroup === "") return this.inThread.preload(script, callable, applicationGroup);
    return this.group(applicationGroup).preload(script, callable);
  }

  /**
   * A hook script call (WSGIAuthUserScript and friends) in an application group of this
   * process: %{GLOBAL} in this thread, with the applications' own ScriptCache; any other group
   * in its worker thread. Never rejects.
   */
  callHook(group: string, call: HookCall): Promise<HookReply> {
    if (group === "") return this.inThread.callHook(group, call);
    if (this.closing) return Promise.resolve(HOOK_FAILED);
    return this.group(group).callHook(call);
  }

  async close(graceMs: number): Promise<void> {
    this.closing = true;
    await Promise.all([this.inThread.close(), ...[...this.groups.values()].map((g) => g.close(graceMs))]);
  }
}
