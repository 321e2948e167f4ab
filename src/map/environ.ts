/**
 * The CGI/WSGI environ of a request, as mod_wsgi builds it (wsgi_build_environment): the
 * header keys from the engine (with trusted-proxy rewriting), Apache's CGI variables, the
 * request's environment (SetEnv, rewrite E=, REDIRECT_*), and the mod_wsgi.* keys.
 * The result is a flat `[key, value, ...]` list of strings; later keys win.
 */
import type { Engine, ProxyList } from "../engine/types";
import type { MapRequest } from "./mapper";
import { requestIdOf } from "../log/request-id";

export interface EnvironInput {
  readonly req: MapRequest;
  readonly requestUri: string;
  readonly query: string | null;
  readonly scriptName: string;
  readonly pathInfo: string;
  readonly pathTranslated: string | null;
  readonly scriptFilename: string;
  readonly documentRoot: string;
  readonly contextPrefix: string;
  readonly contextDocumentRoot: string;
  readonly serverName: string;
  readonly serverPort: string;
  /** ServerAdmin ("[no address given]" when none). */
  readonly serverAdmin: string;
  /** The banner ServerTokens allows. */
  readonly serverSoftware: string;
  /** ServerSignature's footer ("" when Off). */
  readonly serverSignature: string;
  readonly env: ReadonlyMap<string, string>;
  readonly authEnviron: Readonly<Record<string, string>>;
  readonly passAuthorization: boolean;
  readonly trustedProxyHeaders: readonly string[] | null;
  readonly trustedProxies: ProxyList | null;
  readonly handler: string;
  readonly handlerScript: string;
  readonly callable: string;
  readonly processGroup: string;
  readonly applicationGroup: string;
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

/** Pairs buildCgiEnviron always writes (the CGI block and the mod_wsgi block). */
const FIXED_PAIRS = 35;

export function buildCgiEnviron(engine: Engine, e: EnvironInput): string[] {
  const req = e.req;
  const headers = engine.headersToEnviron(req.headers, { passAuthorization: e.passAuthorization });
  let overrides: readonly string[] = [];
  if (e.trustedProxyHeaders && e.trustedProxyHeaders.length > 0) {
    overrides = engine.applyTrustedProxyHeaders(headers, req.remoteAddress, e.trustedProxyHeaders, e.trustedProxies).set;
  }
  const auth = e.authEnviron;
  let authPairs = 0;
  if (auth !== NO_AUTH) for (const k in auth) if (k !== undefined) authPairs++;
  const pathTranslated = e.pathTranslated;
  // Sized once: the list is built on every request, and growing it step by step copies it.
  const out: string[] = new Array(2 * (e.env.size + FIXED_PAIRS + authPairs) + headers.length + overrides.length + (pathTranslated !== null ? 2 : 0));
  let n = 0;
  if (e.env.size > 0) {
    for (const [k, v] of e.env) {
      out[n++] = k;
      out[n++] = v;
    }
  }
  for (let i = 0; i < headers.length; i++) out[n++] = headers[i];

  const now = microsNow();
  const localPort = String(req.localPort);
  out[n++] = "GATEWAY_INTERFACE";
  out[n++] = "CGI/1.1";
  out[n++] = "SERVER_PROTOCOL";
  out[n++] = req.protocol;
  out[n++] = "REQUEST_METHOD";
  out[n++] = req.method;
  out[n++] = "QUERY_STRING";
  out[n++] = e.query ?? "";
  out[n++] = "REQUEST_URI";
  out[n++] = e.requestUri;
  out[n++] = "SCRIPT_NAME";
  out[n++] = e.scriptName;
  out[n++] = "PATH_INFO";
  out[n++] = e.pathInfo;
  out[n++] = "SCRIPT_FILENAME";
  out[n++] = e.scriptFilename;
  out[n++] = "DOCUMENT_ROOT";
  out[n++] = e.documentRoot;
  out[n++] = "CONTEXT_PREFIX";
  out[n++] = e.contextPrefix;
  out[n++] = "CONTEXT_DOCUMENT_ROOT";
  out[n++] = e.contextDocumentRoot;
  out[n++] = "REQUEST_SCHEME";
  out[n++] = req.scheme;
  out[n++] = "SERVER_NAME";
  out[n++] = e.serverName;
  out[n++] = "SERVER_PORT";
  out[n++] = e.serverPort;
  out[n++] = "SERVER_ADDR";
  out[n++] = req.localAddress;
  out[n++] = "SERVER_ADMIN";
  out[n++] = e.serverAdmin;
  out[n++] = "SERVER_SIGNATURE";
  out[n++] = e.serverSignature;
  out[n++] = "SERVER_SOFTWARE";
  out[n++] = e.serverSoftware;
  out[n++] = "REMOTE_ADDR";
  out[n++] = req.remoteAddress;
  out[n++] = "REMOTE_PORT";
  out[n++] = String(req.remotePort);
  if (pathTranslated !== null) {
    out[n++] = "PATH_TRANSLATED";
    out[n++] = pathTranslated;
  }
  if (authPairs > 0) {
    for (const k in auth) {
      out[n++] = k;
      out[n++] = auth[k];
    }
  }
  out[n++] = "mod_wsgi.script_name";
  out[n++] = e.scriptName;
  out[n++] = "mod_wsgi.path_info";
  out[n++] = e.pathInfo;
  out[n++] = "mod_wsgi.process_group";
  out[n++] = e.processGroup;
  out[n++] = "mod_wsgi.application_group";
  out[n++] = e.applicationGroup;
  out[n++] = "mod_wsgi.callable_object";
  out[n++] = e.callable;
  out[n++] = "mod_wsgi.request_handler";
  out[n++] = e.handler;
  out[n++] = "mod_wsgi.handler_script";
  out[n++] = e.handlerScript;
  out[n++] = "mod_wsgi.script_reloading";
  out[n++] = "1";
  out[n++] = "mod_wsgi.enable_sendfile";
  out[n++] = "0";
  out[n++] = "mod_wsgi.ignore_activity";
  out[n++] = "0";
  out[n++] = "mod_wsgi.listener_host";
  out[n++] = req.localAddress;
  out[n++] = "mod_wsgi.listener_port";
  out[n++] = localPort;
  // Shared with the error log lines and the access log's %L of this request.
  out[n++] = "mod_wsgi.request_id";
  out[n++] = requestIdOf(req);
  out[n++] = "mod_wsgi.request_start";
  out[n++] = now;
  out[n++] = "mod_wsgi.script_start";
  out[n++] = now;
  // Trusted proxy headers rewrite REMOTE_ADDR, HTTP_HOST, SERVER_PORT, SCRIPT_NAME, ... last.
  for (let i = 0; i < overrides.length; i++) out[n++] = overrides[i];
  return out;
}
