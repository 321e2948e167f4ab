/**
 * What the map phase is given (a request copied off the wire, without its body stream) and what
 * it answers: an application target, a static file, a listing, a redirect, an error, ... The
 * site (../site.ts) serves a MapResult; the access log reads what it carries.
 */
import type * as fs from "node:fs";
import type { DirSettings } from "../config/model";
import type { ExprRequest } from "../config/expr";
import type { HeaderPair, IncomingRequest, RequestBody } from "../http/types";
import type { DispatchRoute } from "./dispatch-script";
import type { EnvironPairs } from "../app/environ-pairs";

/**
 * What the map phase needs from a request (copied off the wire by the front end): everything
 * but the body stream, whose announced size is enough (static files check LimitRequestBody).
 */
export type MapRequest = Omit<IncomingRequest, "body"> & {
  readonly body?: Pick<RequestBody, "declaredLength" | "chunked">;
};

/** A request for an application, ready for an ApplicationHost. */
export interface WsgiTarget {
  readonly kind: "wsgi";
  readonly script: string;
  readonly callable: string;
  readonly processGroup: string;
  readonly applicationGroup: string;
  readonly environ: EnvironPairs;
  readonly urlScheme: "http" | "https";
  readonly bodyLimit: number;
  readonly acceptChunked: boolean;
  readonly scriptMtimeMs: number | undefined;
  readonly settings: DirSettings;
  /** The request's variables (SetEnv, SetEnvIf, rewrite E=), for Header rules. */
  readonly env: ReadonlyMap<string, string>;
  /** WSGIDispatchScript applies: the handler runs it before choosing the group (./dispatch-script.ts). */
  readonly dispatch?: DispatchRoute;
}

/**
 * Headers the map phase adds to the response (mod_rewrite's Set-Cookie, sent on every response
 * as httpd's err_headers_out are, and Vary, on the successful ones as its headers_out are).
 */
interface AddsHeaders {
  readonly responseHeaders?: readonly HeaderPair[];
  /** The user authentication attributed the request to (httpd's r->user, set once the credentials were read, even when refused): the access log's %u. */
  readonly user?: string;
  /** The request's fields as RequestHeader left them, when it edited them (flat, names lower-case): the access log's %{X}i. */
  readonly requestHeaders?: readonly string[];
  /** What `Header ... expr=` conditions and CustomLog's expr= read of the request, when there are some. */
  readonly exprRequest?: ExprRequest;
}

export type MapResult = AddsHeaders & (
  | WsgiTarget
  | {
      readonly kind: "static";
      readonly file: string;
      /** Null for a method answered without the file (OPTIONS, 405, 501): it need not exist. */
      readonly stat: fs.Stats | null;
      readonly forcedType: string | null;
      readonly settings: DirSettings;
      /** The request's variables (SetEnv, SetEnvIf, rewrite E=), for Header rules and the access log. */
      readonly env: ReadonlyMap<string, string>;
      /** Set when MultiViews chose this file. */
      readonly negotiated?: Negotiated | undefined;
    }
  | { readonly kind: "listing"; readonly dir: string; readonly uri: string; readonly settings: DirSettings }
  /** A type map's inline `Body:` variant, chosen by negotiation (mod_negotiation's handler sends it). */
  | {
      readonly kind: "inline";
      readonly file: string;
      readonly body: Buffer;
      /** Content-Type, Content-Language, Content-Encoding as the map gives them. */
      readonly entity: readonly HeaderPair[];
      /** The negotiation's Vary (and Alternates), on every answer. */
      readonly headers: readonly HeaderPair[];
      readonly settings: DirSettings;
      readonly env: ReadonlyMap<string, string>;
    }
  | { readonly kind: "redirect"; readonly status: number; readonly location: string; readonly settings: DirSettings | null; readonly file?: string }
  /** TraceEnable: echo the request (extended: with its body). */
  | { readonly kind: "trace"; readonly extended: boolean; readonly settings: null }
  /** `OPTIONS *`: a question about the server itself, not any resource. */
  | { readonly kind: "server-options"; readonly settings: null }
  | {
      readonly kind: "error";
      readonly status: number;
      readonly headers?: readonly HeaderPair[];
      /** Why, for the error log (omitted for ordinary 404s, which httpd logs only at info). */
      readonly reason?: string;
      /** The module the log line names (default core), as httpd's line would. */
      readonly reasonModule?: string;
      /** 406 and 300: mod_negotiation's list of the variants, shown on the error page. */
      readonly variantList?: string;
      /** The path the URL was mapped to (r->filename, the access log's %f), when mapped. */
      readonly file?: string;
      readonly settings: DirSettings | null;
    });

/** What MultiViews (or a type map) adds to the chosen variant's responses. */
export interface Negotiated {
  /** Content-Location, Vary, TCN: before the file's own headers, on error responses too. */
  readonly headers: readonly HeaderPair[];
  /** The variants' directory, whose mtime is the variant list validator in the ETag. */
  readonly dirStat: fs.BigIntStats;
  /** A type map chose the variant by an internal redirect (not MultiViews' fast redirect): the URL stays the map's. */
  readonly typeMap?: true;
}

/** A map result, or its promise when the map phase had to wait (Basic authentication). */
export type Mapped = MapResult | Promise<MapResult>;

/** `reason`: a byte string, like the paths it names (logged through textOf). */
export function bad(status: number, reason: string, settings: DirSettings | null = null): MapResult {
  return { kind: "error", status, reason, settings };
}
