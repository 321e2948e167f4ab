/**
 * Front ends accept connections and turn them into IncomingRequest + ResponseSink pairs.
 * Two implementations share this contract: uWebSockets.js (the default, fastest) and node:http
 * (the fallback when the uWS binary cannot load, and the choice for clients uWS refuses).
 */
import type { IncomingRequest, ResponseSink } from "./types";

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
   * Set once shutdown starts: responses from now on carry `Connection: close` so keep-alive
   * clients go away instead of holding the process open.
   */
  draining: boolean;
}

export interface FrontEndOptions {
  /** Largest header block accepted, in bytes (uWS needs it before it loads). */
  readonly maxHeaderBytes: number;
}
