/**
 * The contract between the map phase and wherever an application runs: in this thread
 * (%{GLOBAL}), in a worker thread (one per application group), or in a daemon process group.
 * The map phase produces an AppRequest; an ApplicationHost runs it and writes the response.
 */
import type { RequestBody, ResponseSink } from "../http/types";
import type { EnvironPairs } from "../app/environ-pairs";

/** Everything needed to run one request in an application, in a form that can cross threads and processes. */
export interface AppRequest {
  /** Absolute path of the script file. */
  readonly script: string;
  /** The callable's name: `application`, WSGICallableObject's, or `handle_request`. */
  readonly callable: string;
  /** The application group name; "" is %{GLOBAL}. */
  readonly applicationGroup: string;
  /** The process group name; "" is the front-end process (embedded mode). */
  readonly processGroup: string;
  /** Request method (HEAD sends no body). */
  readonly method: string;
  /**
   * The string environ keys as a flat `[key, value, ...]` list (CGI, HTTP_*, mod_wsgi.*,
   * SetEnv), or one made when asked (environPairs): a request answered from a route plan.
   */
  readonly environ: EnvironPairs;
  /** `wsgi.url_scheme`. */
  readonly urlScheme: "http" | "https";
  readonly multithread: boolean;
  readonly multiprocess: boolean;
  readonly runOnce: boolean;
  /** LimitRequestBody in bytes, 0 for none (enforced again while reading a chunked body). */
  readonly bodyLimit: number;
  /** Prefix for wsgi.errors lines, e.g. `[client 127.0.0.1:5000] `. */
  readonly logPrefix: string;
  /** mtime of the script as the map phase saw it (saves a stat), or undefined. */
  readonly scriptMtimeMs?: number;
}

export interface ApplicationHost {
  /**
   * Run the request and write its response to `sink`. Never rejects: every failure becomes a
   * response (500/503/504) and a line in the error log. Resolves when the response ended;
   * undefined instead when it ended before dispatch returned (an in-thread application that
   * answered at once).
   */
  dispatch(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined;
  /**
   * dispatch() for a caller that does not wait for the response to end (Site, which only
   * catches what goes wrong): a promise only when one is under way anyway (a body being read),
   * else undefined, the response possibly still running. A worker or daemon group then makes
   * no promise per request, nor its caller a `.catch` on it. Exceptions thrown before it
   * returns reach the caller.
   */
  dispatchDetached(req: AppRequest, body: RequestBody, sink: ResponseSink): Promise<void> | undefined;
  /**
   * Load a script ahead of the first request: with `callable` "" only import it
   * (WSGIImportScript); otherwise also look the callable up (preloaded aliases).
   */
  preload(script: string, callable: string, applicationGroup: string): Promise<void>;
  /** Stop taking requests, let those in flight finish within `graceMs`, release resources. */
  close(graceMs: number): Promise<void>;
}
