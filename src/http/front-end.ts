/**
 * Front ends accept connections and turn them into IncomingRequest + ResponseSink pairs.
 * Two implementations share this contract: uWebSockets.js (the default, fastest) and node:http
 * (the fallback when the uWS binary cannot load, and the choice for clients uWS refuses).
 */
import type { IncomingRequest, ResponseSink } from "./types";
import type { RequestLimits } from "./request-checks";
import type { RefusalListener } from "./refused-request";
import type { ErrorLog } from "../log/error-log";

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
   * Connections as KeepAlive, KeepAliveTimeout, MaxKeepAliveRequests and Timeout ask (set at
   * start and on a graceful restart). Returns what this front end cannot apply, for a notice.
   */
  setConnectionPolicy(policy: ConnectionPolicy): string[];
}

/** httpd's KeepAliveTimeout default (5 s). */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5000;
/** httpd's MaxKeepAliveRequests default. */
export const DEFAULT_MAX_KEEP_ALIVE_REQUESTS = 100;

/** httpd's Timeout default, in seconds; as the send timeout, in ms. */
export const DEFAULT_TIMEOUT_S = 60;
export const DEFAULT_SEND_TIMEOUT_MS = DEFAULT_TIMEOUT_S * 1000;
/** The longest timer node runs (a longer one fires after 1 ms): a longer Timeout is this long. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The line httpd's core output filter logs (at trace1; debug here) when a send times out. */
export function sendTimedOutLine(client: string): string {
  return `(70007)The timeout specified has expired: [client ${client}] core_output_filter: writing data to the network`;
}

/** What the connection directives ask of the front end (server level: it serves every host). */
export interface ConnectionPolicy {
  /** KeepAlive: false closes every connection after its response. */
  readonly enabled: boolean;
  /** KeepAliveTimeout, or undefined when not configured (the front end's default). */
  readonly timeoutMs?: number;
  /** MaxKeepAliveRequests (0: unlimited), or undefined when not configured. */
  readonly maxRequests?: number;
  /**
   * Timeout as httpd's send timeout: how long a response may wait for a client that takes none
   * of it before the connection is closed (0: never), or undefined when not configured (60 s).
   * The main server's; a request of a virtual host with its own gets it through its sink
   * (ResponseSink.setSendTimeout).
   */
  readonly sendTimeoutMs?: number;
  /**
   * RequestReadTimeout header= of the main server: the initial timeout in ms for a request head
   * (0: none), or undefined for the default (20 s). The uWS front end has its own fixed idle
   * timeout instead.
   */
  readonly headerTimeoutMs?: number;
}

export interface FrontEndOptions {
  /** Largest header block accepted, in bytes (uWS needs it before it loads). */
  readonly maxHeaderBytes: number;
  /** Request limits; Apache's defaults (request-checks.ts) with `maxHeaderBytes` when absent. */
  readonly limits?: RequestLimits;
  /** Told of each request refused before the handler saw it (the access log logs those too). */
  readonly onRefusal?: RefusalListener;
  /** Where a front end logs what happened to a connection (a send timeout, at debug). */
  readonly errorLog?: ErrorLog;
}
