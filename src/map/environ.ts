/**
 * The CGI/WSGI environ of a request, as mod_wsgi builds it (wsgi_build_environment): the
 * header keys from the engine (with trusted-proxy rewriting), Apache's CGI variables, the
 * request's environment (SetEnv, rewrite E=, REDIRECT_*), and the mod_wsgi.* keys.
 * The result is a flat `[key, value, ...]` list of strings; later keys win. For a request
 * answered from a route plan, CgiEnviron makes that list only when something asks for it.
 */
import type { Engine, ProxyList } from "../engine/types";
import type { MapRequest } from "./mapper";
import { requestIdOf } from "../log/request-id";
import type { LazyEnviron } from "../app/environ-pairs";
import type { Environ, EnvironOptions } from "../app/environ";
import { planEnvironObject, variables } from "./environ-object";
import { wireFields, type WireFields } from "./environ-fields";
import type { WireEnviron, WireParts } from "../groups/environ-codec";

/** What the environ takes from where the request was mapped: the same for every request of a route plan. */
export interface RouteEnviron {
  readonly scriptName: string;
  readonly pathInfo: string;
  readonly pathTranslated: string | null;
  readonly scriptFilename: string;
  readonly documentRoot: string;
  readonly contextPrefix: string;
  readonly contextDocumentRoot: string;
  /** REQUEST_SCHEME: the request's scheme as httpd sees it (ap_http_scheme). */
  readonly scheme: string;
  readonly serverName: string;
  readonly serverPort: string;
  /** ServerAdmin ("[no address given]" when none). */
  readonly serverAdmin: string;
  /** The banner ServerTokens allows. */
  readonly serverSoftware: string;
  /** ServerSignature's footer ("" when Off). */
  readonly serverSignature: string;
  readonly passAuthorization: boolean;
  readonly trustedProxyHeaders: readonly string[] | null;
  readonly trustedProxies: ProxyList | null;
  readonly handler: string;
  readonly handlerScript: string;
  readonly callable: string;
  readonly processGroup: string;
  readonly applicationGroup: string;
}

/** What the environ takes from the request itself. */
export interface RequestEnviron {
  readonly req: MapRequest;
  /** The request's headers as the application sees them (after RequestHeader rules). */
  readonly headers: readonly string[];
  readonly requestUri: string;
  readonly query: string | null;
  readonly env: ReadonlyMap<string, string>;
  readonly authEnviron: Readonly<Record<string, string>>;
}

/**
 * The request start in µs since the epoch, at Date.now()'s millisecond resolution. Converting a
 * 16-digit double to a string is slow; under load many requests share a millisecond.
 */
let lastMs = -1;
let lastMicros = "";
function microsNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastMicros = `${ms}000`;
  }
  return lastMicros;
}

/** The auth environ of a request that was not authenticated (shared, never written). */
export const NO_AUTH: Readonly<Record<string, string>> = Object.freeze({});

export function buildCgiEnviron(engine: Engine, e: RouteEnviron, r: RequestEnviron): string[] {
  return cgiPairs(engine, e, r.req, r.headers, r.requestUri, r.query, r.env, r.authEnviron, microsNow(), requestIdOf(r.req));
}

/**
 * The environ of a request answered from a route plan, as a list made only when something
 * asks for it (the access log, the worker and daemon encoders, the 500 page). The in-thread
 * host asks for `object` instead: the application's environ built straight from the plan's
 * layout, without the list, whose allocation and garbage cost more than filling it (see
 * bench/LIMITS.md and ./environ-object.ts). The time and the request id are taken when the
 * request is mapped, as for a list built then.
 */
export class CgiEnviron implements LazyEnviron, WireEnviron {
  private list: string[] | null = null;
  readonly start: string;
  readonly id: string;

  constructor(
    private readonly engine: Engine,
    readonly route: RouteEnviron,
    readonly req: MapRequest,
    readonly query: string | null,
    readonly env: ReadonlyMap<string, string>,
  ) {
    this.start = microsNow();
    this.id = requestIdOf(req);
  }

  pairs(): readonly string[] {
    if (this.list === null) {
      const req = this.req;
      this.list = cgiPairs(this.engine, this.route, req, req.headers, req.target, this.query, this.env, NO_AUTH, this.start, this.id);
    }
    return this.list;
  }

  object(opts: EnvironOptions): Environ | null {
    // Trusted-proxy headers rewrite the list after it is made: those requests take the list.
    if (this.list !== null || this.route.trustedProxyHeaders !== null) return null;
    return planEnvironObject(this, opts);
  }

  /**
   * The environ in the parts the worker and daemon encoders send without the list
   * (src/groups/environ-codec.ts), the keys of `drop` left out; null when the list must be
   * used: trusted-proxy headers rewrite it, a variable would be dropped, or the fields could
   * not be compiled.
   */
  wireParts(drop: ReadonlySet<string> | null): WireParts | null {
    if (this.list !== null || this.route.trustedProxyHeaders !== null) return null;
    const vars = variables(this.env);
    if (drop !== null) for (let i = 0; i < vars.keys.length; i++) if (drop.has(vars.keys[i])) return null;
    const fields = wireFields(this.route.pathTranslated !== null, drop);
    if (fields === null) return null;
    return new PlanWire(this, vars.keys, vars.values, this.headerPairs(), fields);
  }

  /** The request's HTTP_* keys and values, as the list has them. */
  headerPairs(): readonly string[] {
    return this.engine.headersToEnviron(this.req.headers, { passAuthorization: this.route.passAuthorization });
  }
}

/** A CgiEnviron's parts for the encoders: the plan's variables, the request's headers, the fields. */
class PlanWire implements WireParts {
  readonly keys: readonly string[];

  constructor(
    private readonly c: CgiEnviron,
    readonly variables: readonly string[],
    readonly values: readonly string[],
    readonly headers: readonly string[],
    private readonly fields: WireFields,
  ) {
    this.keys = fields.keys;
  }

  encode(last: string[], at: number, same: Uint8Array | null, out: string[]): void {
    this.fields.encode(this.c, this.c.route, last, at, same, out);
  }
}

function cgiPairs(
  engine: Engine,
  e: RouteEnviron,
  req: MapRequest,
  requestHeaders: readonly string[],
  requestUri: string,
  query: string | null,
  env: ReadonlyMap<string, string>,
  auth: Readonly<Record<string, string>>,
  now: string,
  id: string,
): string[] {
  const out: string[] = [];
  if (env.size > 0) for (const [k, v] of env) out.push(k, v);

  const headers = engine.headersToEnviron(requestHeaders, { passAuthorization: e.passAuthorization });
  let overrides: readonly string[] = [];
  if (e.trustedProxyHeaders && e.trustedProxyHeaders.length > 0) {
    overrides = engine.applyTrustedProxyHeaders(headers, req.remoteAddress, e.trustedProxyHeaders, e.trustedProxies).set;
  }
  for (let i = 0; i < headers.length; i++) out.push(headers[i]);

  // Keep in step with ./environ-fields.ts, from which the plan's environ object and its
  // encoding for the worker and daemon groups are compiled (test/environ-plan.test.js compares).
  out.push(
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", req.protocol,
    "REQUEST_METHOD", req.method,
    "QUERY_STRING", query ?? "",
    "REQUEST_URI", requestUri,
    "SCRIPT_NAME", e.scriptName,
    "PATH_INFO", e.pathInfo,
    "SCRIPT_FILENAME", e.scriptFilename,
    "DOCUMENT_ROOT", e.documentRoot,
    "CONTEXT_PREFIX", e.contextPrefix,
    "CONTEXT_DOCUMENT_ROOT", e.contextDocumentRoot,
    "REQUEST_SCHEME", e.scheme,
    "SERVER_NAME", e.serverName,
    "SERVER_PORT", e.serverPort,
    "SERVER_ADDR", req.localAddress,
    "SERVER_ADMIN", e.serverAdmin,
    "SERVER_SIGNATURE", e.serverSignature,
    "SERVER_SOFTWARE", e.serverSoftware,
    "REMOTE_ADDR", req.remoteAddress,
    "REMOTE_PORT", String(req.remotePort),
  );
  if (e.pathTranslated !== null) out.push("PATH_TRANSLATED", e.pathTranslated);
  if (auth !== NO_AUTH) for (const k in auth) out.push(k, auth[k]);
  out.push(
    "mod_wsgi.script_name", e.scriptName,
    "mod_wsgi.path_info", e.pathInfo,
    "mod_wsgi.process_group", e.processGroup,
    "mod_wsgi.application_group", e.applicationGroup,
    "mod_wsgi.callable_object", e.callable,
    "mod_wsgi.request_handler", e.handler,
    "mod_wsgi.handler_script", e.handlerScript,
    "mod_wsgi.script_reloading", "1",
    "mod_wsgi.enable_sendfile", "0",
    "mod_wsgi.ignore_activity", "0",
    "mod_wsgi.listener_host", req.localAddress,
    "mod_wsgi.listener_port", String(req.localPort),
    // Shared with the error log lines and the access log's %L of this request.
    "mod_wsgi.request_id", id,
    "mod_wsgi.request_start", now,
    "mod_wsgi.script_start", now,
  );
  // Trusted proxy headers rewrite REMOTE_ADDR, HTTP_HOST, SERVER_PORT, SCRIPT_NAME, ... last.
  for (let i = 0; i < overrides.length; i++) out.push(overrides[i]);
  return out;
}
