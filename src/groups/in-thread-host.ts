/**
 * Runs applications in the calling thread: mod_wsgi's embedded mode with every application
 * group in the main isolate. Each group still gets its own ScriptCache, so two groups never
 * share a script's module state. This is the %{GLOBAL} fast path (no hop); worker-thread
 * groups build on the same pieces on the other side of their queue.
 */
import type { ApplicationHost, AppRequest } from "./types";
import type { RequestBody, ResponseSink } from "../http/types";
import type { ErrorLog } from "../log/error-log";
import { ScriptCache } from "../app/loader";
import { BODY_IDLE_TIMEOUT_MS, runRequest } from "./run-request";
import { runHook, type HookCall, type HookReply, type HookRunner } from "../app/hooks";

export class InThreadHost implements ApplicationHost, HookRunner {
  private readonly caches = new Map<string, ScriptCache>();

  constructor(
    private readonly log: ErrorLog,
    /** How long a request body may stop arriving before it is answered 408. */
    private readonly bodyIdleMs = BODY_IDLE_TIMEOUT_MS,
  ) {}

  cache(group: string): ScriptCache {
    let c = this.caches.get(group);
    if (!c) {
      c = new ScriptCache(group);
      this.caches.set(group, c);
    }
    return c;
  }

  dispatch(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    return runRequest(this.cache(req.applicationGroup), req, body, sink, this.log, this.bodyIdleMs);
  }

  /** As dispatch: the promise it returns is the application's own, when it runs asynchronously. */
  dispatchDetached(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined {
    return this.dispatch(req, body, sink);
  }

  async preload(script: string, callable: string, applicationGroup: string): Promise<void> {
    const cache = this.cache(applicationGroup);
    if (callable === "") await cache.load(script);
    else await cache.getCallable(script, callable);
  }

  /** A hook script call in `group`'s scripts (shared with its applications). Never rejects. */
  callHook(group: string, call: HookCall): Promise<HookReply> {
    return runHook(this.cache(group), call, this.log);
  }

  async close(): Promise<void> {
    // Nothing to release: requests in flight finish on their own.
  }
}
