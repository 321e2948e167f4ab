/**
 * WSGIDispatchScript: per-request overrides of where an application runs. As mod_wsgi's
 * wsgi_execute_dispatch, in the handler (Site.runApplication), after the request body checks
 * and before the process group is validated:
 *
 *   process_group(environ)      -> WSGIProcessGroup       (then expanded as wsgi_process_group)
 *   application_group(environ)  -> WSGIApplicationGroup   (then expanded as wsgi_application_group)
 *   callable_object(environ)    -> WSGICallableObject     (then expanded as wsgi_callable_object)
 *
 * Each is optional; null/undefined keeps what the configuration (WSGIScriptAlias options
 * included) chose. An exception or a result that is not a string fails the request with 500
 * and skips the functions after it; a script that cannot be loaded is logged and the request
 * goes on as configured. The environ is the application's own (minus `mod_wsgi.callable_object`,
 * with `mod_wsgi.process_group` "" and `mod_wsgi.application_group` the group the dispatch
 * script runs in) plus `wsgi.errors`; the application then sees the overridden
 * `mod_wsgi.process_group`/`application_group`/`callable_object`.
 *
 * What comes out is checked as a configured group is, by the caller: WSGIRestrictProcess, a
 * daemon process group that does not exist (both 500, logged).
 */
import type { HookScript } from "../config/model";
import type { ErrorLog } from "../log/error-log";
import { callHookWithin, type HookCall, type HookRunner } from "../app/hooks";
import { hookGroupName } from "../auth/wsgi-hook-environ";
import { environPairs, type EnvironPairs } from "../app/environ-pairs";
import { toByteString } from "../engine/byte-string";
import { resolveGroupName } from "./groups";

/** What the map phase hands over for a request whose location has a WSGIDispatchScript. */
export interface DispatchRoute {
  readonly script: HookScript;
  /** ServerName as configured (text), for `%{SERVER}`/`%{RESOURCE}`. */
  readonly configuredName: string;
  readonly serverPort: string;
  /** The Host header's name, for `%{HOST}`. */
  readonly sentName: string | undefined;
  /** SCRIPT_NAME, for `%{RESOURCE}`. */
  readonly scriptName: string;
  readonly env: ReadonlyMap<string, string>;
}

/** The routing of an application request, as the map phase decided it. */
export interface Routing {
  readonly processGroup: string;
  readonly applicationGroup: string;
  readonly callable: string;
  /** The flat environ list. */
  readonly environ: EnvironPairs;
}

export interface DispatchOptions {
  readonly runner: HookRunner;
  readonly log: ErrorLog;
  readonly timeoutMs: number;
  readonly logPrefix: string;
  readonly https: boolean;
}

const ROUTING_KEYS = ["mod_wsgi.process_group", "mod_wsgi.application_group", "mod_wsgi.callable_object"] as const;

/** Run the dispatch functions: the routing to use, or null for a 500 (logged). Never rejects. */
export async function runDispatch(route: DispatchRoute, routing: Routing, opts: DispatchOptions): Promise<Routing | null> {
  const group = hookGroupName(route.script.applicationGroup, route);
  const environ: Record<string, string> = {};
  const pairs = environPairs(routing.environ);
  for (let i = 0; i + 1 < pairs.length; i += 2) environ[pairs[i]!] = pairs[i + 1]!;
  // mod_wsgi's Dispatch_environ: subprocess_env before the script is started.
  delete environ["mod_wsgi.callable_object"];
  delete environ["mod_wsgi.script_start"];
  environ["mod_wsgi.process_group"] = "";
  environ["mod_wsgi.application_group"] = group;
  const call: HookCall = { fn: "dispatch", script: toByteString(route.script.script), environ, args: [], logPrefix: opts.logPrefix, https: opts.https };
  const reply = await callHookWithin(opts.runner, group, call, opts.timeoutMs, opts.log);
  if (reply.kind !== "dispatch") return null;
  if (reply.processGroup === undefined && reply.applicationGroup === undefined && reply.callableObject === undefined) return routing;
  const lookup = (name: string): string | undefined => {
    const v = environ[name] ?? route.env.get(name);
    if (v !== undefined) return v;
    const p = process.env[name];
    return p === undefined ? undefined : toByteString(p);
  };
  const processGroup = reply.processGroup === undefined ? routing.processGroup : expandGroup(reply.processGroup, route, lookup);
  const applicationGroup = reply.applicationGroup === undefined ? routing.applicationGroup : expandGroup(reply.applicationGroup, route, lookup);
  const callable = reply.callableObject === undefined ? routing.callable : expandCallable(reply.callableObject, lookup);
  const values = [processGroup, applicationGroup, callable];
  const out = pairs.slice();
  for (let i = 0; i + 1 < out.length; i += 2) {
    const k = ROUTING_KEYS.indexOf(out[i] as (typeof ROUTING_KEYS)[number]);
    if (k >= 0) out[i + 1] = values[k]!;
  }
  return { processGroup, applicationGroup, callable, environ: out };
}

/** mod_wsgi's wsgi_process_group / wsgi_application_group for a value a dispatch function returned. */
export function expandGroup(value: string, route: Pick<DispatchRoute, "configuredName" | "serverPort" | "sentName" | "scriptName" | "env">, lookup: (name: string) => string | undefined): string {
  if (!value.startsWith("%")) return value;
  if (value === "%{GLOBAL}" || value === "%{RESOURCE}" || value === "%{SERVER}") {
    return resolveGroupName(value, { serverName: route.configuredName, serverPort: route.serverPort, scriptName: route.scriptName, env: route.env }, "");
  }
  if (value === "%{HOST}") return hookGroupName(value, route);
  if (value.startsWith("%{ENV:") && value.endsWith("}")) {
    const v = lookup(value.slice(6, -1));
    // An unset variable leaves the expression as the name (mod_wsgi); a value that is itself
    // an expression other than %{ENV:...} is expanded once more.
    if (v === undefined) return value;
    return v.startsWith("%") && !v.startsWith("%{ENV:") ? expandGroup(v, route, lookup) : v;
  }
  return value;
}

/** mod_wsgi's wsgi_callable_object: `%{ENV:name}` is the variable (or `application`); any other `%...` is `application`. */
export function expandCallable(value: string, lookup: (name: string) => string | undefined): string {
  if (!value.startsWith("%")) return value;
  if (value.startsWith("%{ENV:") && value.endsWith("}")) return lookup(value.slice(6, -1)) ?? "application";
  return "application";
}
