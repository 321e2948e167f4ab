/**
 * Route plans: the map phase of an application request, remembered when it did not depend on
 * the request. Most requests to a site look like the last one to the same URL-path: mapping
 * them consults the path, the Host header and the listener, and nothing else (no per-directory
 * mod_rewrite; server-context rules only where the conditions evaluated read nothing else and
 * every rule that matched qualifies, leaving the query the request's own
 * (RewriteEffects.onlyPathAndHost); no SetEnvIf, authentication, host-based Require or
 * Allow/Deny, RequestHeader rules or internal redirect; see where the mapper clears
 * `RequestState.plain`). Everything such a mapping decides but the environ's per-request
 * values (method, query, headers, client, request id, time, and what trusted-proxy headers
 * rewrite) is then the same for the next request with the same path, Host and listener, and
 * the mapper answers it from the plan. Plans are kept in the route cache under the path as
 * sent (a rule may have mapped the request under another path, whose own requests the rules
 * treat otherwise) and expire with the entry of the path the request was mapped under.
 */
import type { DirSettings } from "../config/model";
import type { RouteEnviron } from "./environ";

/** What host selection and SERVER_NAME/SERVER_PORT were worked out from. */
export interface PlanKey {
  readonly hostHeader: string | undefined;
  readonly localAddress: string;
  readonly localPort: number;
  readonly scheme: string;
}

export interface RoutePlan extends PlanKey {
  /** When the route-cache entry it rests on was made: the plan expires with it (STAT_TTL_MS). */
  readonly at: number;
  readonly environ: RouteEnviron;
  /** The request's variables: the route's SetEnv, nothing request-specific. */
  readonly env: ReadonlyMap<string, string>;
  readonly script: string;
  readonly callable: string;
  readonly processGroup: string;
  readonly applicationGroup: string;
  readonly urlScheme: "http" | "https";
  readonly bodyLimit: number;
  readonly acceptChunked: boolean;
  readonly scriptMtimeMs: number | undefined;
  readonly settings: DirSettings;
}

/** The plan was made for a request arriving the same way (same Host header, listener and scheme). */
export function planFits(plan: PlanKey, hostHeader: string | undefined, localAddress: string, localPort: number, scheme: string): boolean {
  return plan.hostHeader === hostHeader && plan.localPort === localPort && plan.localAddress === localAddress && plan.scheme === scheme;
}
