/**
 * Front ends accept connections and turn them into IncomingRequest + ResponseSink pairs.
 * Two implementations share this contract: uWebSockets.js (the default, fastest) and node:http
 * (the fallback when the uWS binary cannot load, and the choice for clients uWS refuses).
 */
import type { IncomingRequest, ResponseSink } from "./types";
import type { RequestLimits } from "./request-checks";

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
}

export interface FrontEndOptions {
  /** Largest header block accepted, in bytes (uWS needs it before it loads). */
  readonly maxHeaderBytes: number;
  /** Request limits; Apache's defaults (request-checks.ts) with `maxHeaderBytes` when absent. */
  readonly limits?: RequestLimits;
}
