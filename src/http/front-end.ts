/**
 * Front ends accept connections and turn them into IncomingRequest + ResponseSink pairs.
 * Two implementations share this contract: uWebSockets.js (the default, fastest) and node:http
 * (the fallback when the uWS binary cannot load, and the choice for clients uWS refuses).
 */
import type { IncomingRequest, ResponseSink } from "./types";
import type { RequestLimits } from "./request-checks";
import type { RefusalListener } from "./refused-request";

export type RequestHandler = (req: IncomingRequest, res: ResponseSink) => void;

export type FrontEndKind = "uws" | "node";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface FrontEnd {
  readonly kind: FrontEndKind;
  /** Bind and start accepting; resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<ListenAddress>;
  /** Stop accepting new connections; requests in flight carry on. */
  stopListening(): void;
  /** Requests whose responses have not ended yet. */
  readonly inFlight: number;
  /**
   * Set once shutdown starts: responses from now on carry `Connection: close`, idle keep-alive
   * connections are closed at once, and once no request is in flight every connection still
   * open (a half-sent request, a silent client) is closed too, so nothing holds shutdown.
   */
  draining: boolean;
  /**
   * The `Server` header every response gets (ServerTokens' banner; the server sets it at start
   * and on a graceful restart); it replaces one an application sent, as httpd. "" sends none.
   */
  serverHeader: string;
  /**
   * Persistent connections as KeepAlive, KeepAliveTimeout and MaxKeepAliveRequests ask (set at
   * start and on a graceful restart). Returns what this front end cannot apply, for a notice.
   */
  setKeepAlive(policy: KeepAlivePolicy): string[];
}

/** httpd's KeepAliveTimeout default (5 s). */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5000;
/** httpd's MaxKeepAliveRequests default. */
export const DEFAULT_MAX_KEEP_ALIVE_REQUESTS = 100;

/** What the keep-alive directives ask of the front end (server level: it serves every host). */
export interface KeepAlivePolicy {
  /** KeepAlive: false closes every connection after its response. */
  readonly enabled: boolean;
  /** KeepAliveTimeout, or undefined when not configured (the front end's default). */
  readonly timeoutMs?: number;
  /** MaxKeepAliveRequests (0: unlimited), or undefined when not configured. */
  readonly maxRequests?: number;
}

export interface FrontEndOptions {
  /** Largest header block accepted, in bytes (uWS needs it before it loads). */
  readonly maxHeaderBytes: number;
  /** Request limits; Apache's defaults (request-checks.ts) with `maxHeaderBytes` when absent. */
  readonly limits?: RequestLimits;
  /** Told of each request refused before the handler saw it (the access log logs those too). */
  readonly onRefusal?: RefusalListener;
}
