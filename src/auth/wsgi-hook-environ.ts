/**
 * What mod_wsgi's access, authentication and group hooks (WSGIAccessScript,
 * WSGIAuthUserScript, WSGIAuthGroupScript) are given, and where they run:
 *
 * - the environ is mod_wsgi's Auth_environ, a reduced one: the request's headers as HTTP_*
 *   (CONTENT_TYPE/CONTENT_LENGTH; never Authorization or Proxy-Authorization), SERVER_* and
 *   REMOTE_* (REMOTE_HOST only when a host-name rule has looked the client up), DOCUMENT_ROOT,
 *   REQUEST_METHOD/QUERY_STRING/REQUEST_URI, SCRIPT_NAME/PATH_INFO as the request stands,
 *   `mod_wsgi.process_group` "", `mod_wsgi.application_group`, `mod_wsgi.script_reloading` 1;
 *   no SetEnv variables (so .htaccess cannot feed the hook), no `wsgi.input`. `wsgi.errors`
 *   and `mod_ssl.is_https`/`mod_ssl.var_lookup` are added where the hook runs (app/hooks.ts).
 *   mod_wsgi's `apache.version` and `mod_wsgi.version` tuples are not given, as applications
 *   do not get them from nodewsgi either.
 * - the application group is the directive's `application-group=`, expanded as mod_wsgi's
 *   wsgi_server_group does: `%{GLOBAL}` (the default) is "", `%{SERVER}` the ServerName and
 *   `%{HOST}` the Host header's name (each with `:port` unless 80 or 443); anything else is a
 *   literal name (even `%{RESOURCE}`).
 */
import type { Engine } from "../engine/types";
import type { ErrorLog } from "../log/error-log";
import type { MapRequest } from "../map/mapper";
import type { HookCall, HookFunction, HookReply, HookRunner } from "../app/hooks";
import { callHookWithin } from "../app/hooks";
import { toByteString } from "../engine/byte-string";
import { findPathInfo } from "../map/walk";

/** A request as the map phase has it when a hook runs, and what running one needs. */
export interface HookContext {
  readonly req: MapRequest;
  /** r->uri: the URL-path being mapped (decoded, normalised). */
  readonly uri: string;
  /** r->path_info of the directory walk. */
  readonly pathInfo: string;
  readonly query: string | null;
  /** REQUEST_URI: the target as sent. */
  readonly requestUri: string;
  readonly serverName: string;
  readonly serverPort: string;
  /** ServerName as configured (text), for `%{SERVER}`. */
  readonly configuredName: string;
  /** The Host header's name, for `%{HOST}`. */
  readonly sentName: string | undefined;
  readonly documentRoot: string;
  readonly serverAdmin: string;
  readonly serverSoftware: string;
  /** ServerSignature's footer ("" when Off). */
  readonly serverSignature: string;
  /** The client's name when a host-name rule looked it up (null: none), else undefined. */
  readonly hostName: string | null | undefined;
  readonly engine: Engine;
  readonly log: ErrorLog;
  readonly runner: HookRunner;
  /** How long a hook may take before it counts as failed (Apache's Timeout). */
  readonly timeoutMs: number;
  readonly logPrefix: string;
}

/** mod_wsgi's wsgi_server_group: the application group a hook script runs in. */
export function hookGroupName(value: string, ctx: Pick<HookContext, "configuredName" | "sentName" | "serverPort">): string {
  const port = ctx.serverPort === "80" || ctx.serverPort === "443" ? "" : `:${ctx.serverPort}`;
  if (value === "%{GLOBAL}") return "";
  if (value === "%{SERVER}") return toByteString(ctx.configuredName) + port;
  if (value === "%{HOST}") return (ctx.sentName ? ctx.sentName.toLowerCase() : toByteString(ctx.configuredName)) + port;
  return toByteString(value);
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" };

/** mod_wsgi's Auth_environ for `group` (see the module comment). */
export function authHookEnviron(ctx: HookContext, group: string): Record<string, string | number> {
  const req = ctx.req;
  const env: Record<string, string | number> = {};
  const headers = ctx.engine.headersToEnviron(req.headers, { passAuthorization: false });
  for (let i = 0; i + 1 < headers.length; i += 2) env[headers[i]!] = headers[i + 1]!;
  env.SERVER_SIGNATURE = ctx.serverSignature;
  env.SERVER_SOFTWARE = ctx.serverSoftware;
  env.SERVER_NAME = ctx.serverName.replace(/[<>&"]/g, (c) => HTML_ESCAPES[c]!);
  env.SERVER_ADDR = req.localAddress;
  env.SERVER_PORT = ctx.serverPort;
  if (ctx.hostName) env.REMOTE_HOST = ctx.hostName;
  env.REMOTE_ADDR = req.remoteAddress;
  env.DOCUMENT_ROOT = ctx.documentRoot;
  env.SERVER_ADMIN = ctx.serverAdmin;
  env.REMOTE_PORT = String(req.remotePort);
  env.SERVER_PROTOCOL = req.protocol;
  env.REQUEST_METHOD = req.method;
  env.QUERY_STRING = ctx.query ?? "";
  env.REQUEST_URI = ctx.requestUri;
  env.SCRIPT_NAME = ctx.pathInfo === "" ? ctx.uri : ctx.uri.slice(0, findPathInfo(ctx.uri, ctx.pathInfo));
  env.PATH_INFO = ctx.pathInfo;
  env["mod_wsgi.process_group"] = "";
  env["mod_wsgi.application_group"] = group;
  env["mod_wsgi.script_reloading"] = 1;
  return env;
}

/** Call an access/authentication/group hook of `script` for this request. Never rejects. */
export function callAuthHook(ctx: HookContext, fn: Exclude<HookFunction, "dispatch">, script: { readonly script: string; readonly applicationGroup: string }, args: readonly (string | null)[]): Promise<HookReply> {
  const group = hookGroupName(script.applicationGroup, ctx);
  const call: HookCall = {
    fn,
    script: toByteString(script.script),
    environ: authHookEnviron(ctx, group),
    args,
    logPrefix: ctx.logPrefix,
    https: ctx.req.scheme === "https",
  };
  return callHookWithin(ctx.runner, group, call, ctx.timeoutMs, ctx.log);
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A byte string's text as UTF-8 (as mod_wsgi hands user names and passwords to Python), or null. */
export function utf8Text(bytes: string | Buffer): string | null {
  try {
    return UTF8.decode(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  } catch {
    return null;
  }
}
