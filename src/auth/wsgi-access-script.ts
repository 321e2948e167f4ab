/**
 * WSGIAccessScript: mod_wsgi's access_checker hook, `allow_access(environ, host)`.
 *
 * It runs in httpd's access checker phase, after mod_access_compat (Order/Allow/Deny) and
 * before mod_authz_core (Require); the access phase (src/map/access-phase.ts, checkAccessCompat) combines
 * the two as ap_process_request_internal does with Satisfy. `host` is the client's name when
 * a host-name rule has looked it up already, else its address (ap_get_remote_host with
 * REMOTE_HOST, then the address).
 *
 * true -> OK; null/undefined -> DECLINED (no objection); false, any other result, an exception,
 * a script that cannot be loaded or lacks the function -> 403. A refusal is logged as mod_wsgi
 * logs it (`Client denied by server configuration: '<file>'.`) unless `Satisfy Any` leaves the
 * request to Require and authentication.
 */
import type { AuthzContainer, AuthzItem, HookScript } from "../config/model";
import { limitCovers } from "./method-limit";
import { callAuthHook, type HookContext } from "./wsgi-hook-environ";

/** What the access checker says: go on (OK or DECLINED), or 403. */
export type AccessVerdict = "ok" | "forbidden";

export async function wsgiAllowAccess(ctx: HookContext, script: HookScript): Promise<AccessVerdict> {
  const host = ctx.hostName || ctx.req.remoteAddress;
  const reply = await callAuthHook(ctx, "allow_access", script, [host]);
  return reply.kind === "access" && reply.allow !== false ? "ok" : "forbidden";
}

/** The line mod_wsgi logs for a refusal (r->filename), module wsgi. */
export function accessDeniedLine(filename: string): string {
  return `mod_wsgi (pid=${process.pid}): Client denied by server configuration: '${filename}'.`;
}

/**
 * httpd 2.4's ap_some_auth_required (mod_authz_core): some Require applies to this method.
 * mod_wsgi logs its refusal only when that is false or Satisfy is not Any.
 */
export function someAuthRequired(authz: AuthzContainer | undefined, method: string): boolean {
  if (authz === undefined) return false;
  const covers = (item: AuthzItem | AuthzContainer): boolean =>
    item.kind === "require" ? limitCovers(item.limit, method) : item.items.some(covers);
  return covers(authz);
}
