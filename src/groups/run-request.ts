/**
 * Running one AppRequest against a ScriptCache: load the callable, read the body, build the
 * environ, run the application. Shared by every kind of host (in-thread, worker thread,
 * daemon process), so the gateway behaves the same wherever the application lives.
 */
import type { AppRequest } from "./types";
import type { RequestBody, ResponseSink } from "../http/types";
import { CLOSE_CONNECTION } from "../http/request-checks";
import type { ErrorLog } from "../log/error-log";
import type { ScriptCache, WsgiApplication } from "../app/loader";
import { collectBody, createInput, memoryBody, type BodyBuffer } from "../app/input";
import { buildEnviron } from "../app/environ";
import { environPairs } from "../app/environ-pairs";
import { WsgiErrors } from "../app/errors-stream";
import { logScriptException, runApplication, sendInternalServerError } from "../app/run";
import { sendServerErrorPage } from "../static/error-page";
import { NodewsgiError } from "../errors";

/** A body that stops arriving for this long is abandoned with 408 (Apache's Timeout default; `Timeout` sets it). */
export const BODY_IDLE_TIMEOUT_MS = 60_000;

/** Bodies larger than this are spooled to a temporary file instead of held in memory. */
export const SPOOL_THRESHOLD = 1 << 20;

const NO_BODY = memoryBody(new Uint8Array(0));

/**
 * Never rejects. Undefined when the response was completed synchronously: a loaded
 * application and no body to wait for run in the caller's turn (the front end's handler, so
 * the response goes out in the socket's corked write).
 */
export function runRequest(cache: ScriptCache, req: AppRequest, body: RequestBody, sink: ResponseSink, log: ErrorLog, bodyIdleMs = BODY_IDLE_TIMEOUT_MS): Promise<void> | undefined {
  // Without a body, run as soon as the callable is there, without an async function's turns.
  if (body.declaredLength <= 0 && !body.chunked) return runCollected(cache, req, NO_BODY, sink, log);
  return runWithBody(cache.getCallable(req.script, req.callable, req.scriptMtimeMs), req, body, sink, log, bodyIdleMs);
}

async function runWithBody(callable: Promise<WsgiApplication>, req: AppRequest, body: RequestBody, sink: ResponseSink, log: ErrorLog, bodyIdleMs: number): Promise<void> {
  let app;
  try {
    app = await callable;
  } catch (err) {
    return failLoad(log, req, sink, err);
  }
  let buf: BodyBuffer;
  // A client that goes away mid-body must release what was collected (and the spool file).
  const abort = new AbortController();
  sink.onAbort(() => abort.abort());
  try {
    buf = await collectBody(body, { limit: req.bodyLimit, spoolThreshold: SPOOL_THRESHOLD, signal: abort.signal, idleTimeoutMs: bodyIdleMs });
  } catch (err) {
    refuseBody(sink, err, req.method);
    return;
  }
  try {
    await runLoaded(app, req, buf, sink, log);
  } finally {
    buf.dispose();
  }
}

/**
 * The answer to a body that could not be collected (over LimitRequestBody, stalled, badly
 * framed): 413, 408 or 400, and the connection closed, as httpd does. The rest of the body was
 * never read, so nothing else on the connection can be trusted to start where a request does.
 */
export function refuseBody(sink: ResponseSink, err: unknown, method: string): void {
  const s = (err as { status?: number }).status;
  const status = s === 413 || s === 408 ? s : 400;
  if (!sink.aborted) sendServerErrorPage(sink, status, { method }, CLOSE_CONNECTION);
}

/**
 * Run a request whose body has already been collected (a worker thread gets it from the
 * front-end thread), or that has none. The caller owns `buf`. Undefined as runRequest.
 */
export function runCollected(cache: ScriptCache, req: AppRequest, buf: BodyBuffer, sink: ResponseSink, log: ErrorLog): Promise<void> | undefined {
  const app = cache.ready(req.script, req.callable, req.scriptMtimeMs);
  if (app !== undefined) return runLoaded(app, req, buf, sink, log);
  return cache.getCallable(req.script, req.callable, req.scriptMtimeMs).then(
    (app) => runLoaded(app, req, buf, sink, log),
    (err: unknown) => failLoad(log, req, sink, err),
  );
}

/**
 * The script could not be loaded, or lacks the callable: 500 with the stack logged. A missing
 * callable is one line in the log, and 404 in embedded mode, as mod_wsgi answers it (its daemon
 * processes answer 500).
 */
function failLoad(log: ErrorLog, req: AppRequest, sink: ResponseSink, err: unknown): void {
  const noCallable = err instanceof NodewsgiError && err.code === "E_CALLABLE_NOT_FOUND";
  if (noCallable) log.log("error", "wsgi", `${req.logPrefix}mod_wsgi (pid=${process.pid}): ${err.message}`);
  else logScriptException(log, req.script, err, req.logPrefix);
  if (sink.aborted) return;
  // ServerAdmin and the ServerSignature footer come from the environ: looked up only here,
  // when the page is sent.
  const env = environPairs(req.environ);
  let admin: string | undefined;
  let signature = "";
  for (let i = 0; i + 1 < env.length; i += 2) {
    if (env[i] === "SERVER_ADMIN") admin = env[i + 1];
    else if (env[i] === "SERVER_SIGNATURE") signature = env[i + 1];
  }
  if (noCallable && req.processGroup === "") sendServerErrorPage(sink, 404, { method: req.method, signature: signature === "" ? "" : `<hr>\n${signature}` });
  else sendInternalServerError(sink, req.method === "HEAD", admin, signature);
}

/** Never rejects (runApplication flushes wsgi.errors when the response is done). */
function runLoaded(app: WsgiApplication, req: AppRequest, buf: BodyBuffer, sink: ResponseSink, log: ErrorLog): Promise<void> | undefined {
  const errors = new WsgiErrors(log, req.logPrefix);
  const environ = buildEnviron(req.environ, {
    urlScheme: req.urlScheme,
    input: createInput(buf),
    errors,
    multithread: req.multithread,
    multiprocess: req.multiprocess,
    runOnce: req.runOnce,
  });
  return runApplication(app, environ, sink, {
    method: req.method,
    log,
    scriptFilename: req.script,
    logPrefix: req.logPrefix,
  });
}
