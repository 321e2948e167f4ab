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
import { sendServerErrorPage } from "../static/error-page";
import { textOf } from "../engine/byte-string";
import { NodewsgiError } from "../errors";

/**
 * The most application groups (worker threads) one process starts. A group name may come from
 * the request (`%{ENV:...}` set from a header, a dispatch script's answer, an auth hook's
 * `%{HOST}`): without a bound, clients inventing names would start threads until memory ran out.
 */
export const MAX_APPLICATION_GROUPS = 128;

export interface ProcessHostOptions {
  readonly log: ErrorLog;
  /** Requests each worker-thread group may have in flight at once (default 1). */
  readonly threads?: number;
  /** Requests each group may queue beyond `threads` before answering 503 (default 100). */
  readonly queueCapacity?: number;
  /** The most worker-thread groups this host starts (default MAX_APPLICATION_GROUPS). */
  readonly maxGroups?: number;
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

  /**
   * The group for `name`, unless starting it would pass the bound on groups: then null, logged
   * (`context` is what the line starts with: the request's client prefix).
   */
  private groupWithin(name: string, context: string): WorkerGroup | null {
    const max = this.opts.maxGroups ?? MAX_APPLICATION_GROUPS;
    if (this.groups.has(name) || this.groups.size < max) return this.group(name);
    this.opts.log.log("error", "wsgi", `${context}mod_wsgi (pid=${process.pid}): Unable to create application group '${textOf(name)}': this process already runs ${max} application groups.`);
    return null;
  }

  dispatch(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    if (req.applicationGroup === "") return this.inThread.dispatch(req, body, sink);
    const g = this.workerGroup(req, sink);
    return g === null ? undefined : g.dispatch(req, body, sink);
  }

  dispatchDetached(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    if (req.applicationGroup === "") return this.inThread.dispatchDetached(req, body, sink);
    const g = this.workerGroup(req, sink);
    return g === null ? undefined : g.dispatchDetached(req, body, sink);
  }

  /** The request's worker group, or null when it may not be started (answered 500 then). */
  private workerGroup(req: AppRequest, sink: ResponseSink): WorkerGroup | null {
    const g = this.groupWithin(req.applicationGroup, req.logPrefix);
    if (g === null) {
      if (!sink.aborted) sendServerErrorPage(sink, 500, { method: req.method });
      return null;
    }
    if (this.closing) void g.close(0); // a group first seen while closing answers 503 and starts no worker
    return g;
  }

  preload(script: string, callable: string, applicationGroup: string): Promise<void> {
    if (applicationGroup === "") return this.inThread.preload(script, callable, applicationGroup);
    const g = this.groupWithin(applicationGroup, "");
    if (g === null) return Promise.reject(new NodewsgiError("GROUP_LIMIT", `too many application groups to start '${textOf(applicationGroup)}'`));
    return g.preload(script, callable);
  }

  /**
   * A hook script call (WSGIAuthUserScript and friends) in an application group of this
   * process: %{GLOBAL} in this thread, with the applications' own ScriptCache; any other group
   * in its worker thread. Never rejects.
   */
  callHook(group: string, call: HookCall, abandon?: AbortSignal): Promise<HookReply> {
    if (group === "") return this.inThread.callHook(group, call);
    if (this.closing) return Promise.resolve(HOOK_FAILED);
    const g = this.groupWithin(group, "");
    return g === null ? Promise.resolve(HOOK_FAILED) : g.callHook(call, abandon);
  }

  /** Groups closing stop waiting for their requests within `graceMs` from now (WorkerGroup.hurry). */
  hurry(graceMs: number): void {
    for (const g of this.groups.values()) g.hurry(graceMs);
  }

  async close(graceMs: number): Promise<void> {
    this.closing = true;
    await Promise.all([this.inThread.close(), ...[...this.groups.values()].map((g) => g.close(graceMs))]);
  }
}
