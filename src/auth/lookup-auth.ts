/**
 * Access control for a lookup that cannot wait: RewriteCond -U/-F run httpd's subrequest for a
 * URL or file while the rewrite rules are being applied, synchronously. The subrequest carries
 * the main request's Authorization, so a location behind Basic authentication is reachable
 * exactly when those credentials are good for it (checked against httpd 2.4.71, the
 * rewrite-lookup-auth scenario). The steps and log lines are authorize()'s (./access-steps.ts,
 * where what a lookup does differently is said); here they are driven with synchronous calls:
 * the password and group files are read into the same caches as the requests', and a bcrypt
 * hash blocks for its cost, as httpd's subrequest blocks its worker thread.
 */
import { NodewsgiError } from "../errors";
import type { ErrorLog } from "../log/error-log";
import { accessSteps, type AccessStep, type AuthConfig, type AuthRequest, type AuthorizeOptions } from "./access-steps";
import { answerBcryptSync } from "./htpasswd";
import { answerFileStepSync, driveSync } from "./steps";
import { evaluateRequire, type AuthzRequest, type Requirement } from "./require";

export interface LookupOptions {
  readonly log?: ErrorLog;
  /** `Require expr`'s evaluator for the looked-up location (AuthzRequest.expr). */
  readonly expr?: AuthzRequest["expr"];
  readonly digestState?: AuthorizeOptions["digestState"];
  /** Given the Authentication-Info a Digest success adds to the main request's response. */
  readonly onAuthenticationInfo?: (value: string) => void;
}

/**
 * The status a lookup's subrequest gets from mod_authz_core and mod_auth_basic or mod_auth_digest:
 * 200, 400, 401, 403, 500 or 503. A Digest subrequest checks the main request's answer as httpd
 * does (its `uri` against the main request-target; a tracked nonce-count counts), with the file
 * provider only: lookups run no hook scripts (a wsgi provider or `Require wsgi-group` line
 * fails the lookup, logged); `Require expr` is evaluated as located in the subrequest. A Digest success gives `onAuthenticationInfo` the
 * Authentication-Info httpd then adds to the main request's response (the subrequest marked the
 * main request's Digest record as authenticated). A Digest failure there crashes httpd 2.4.71's
 * child (the main request's Authentication-Info is made from what was never checked); here the
 * lookup just fails.
 */
export function lookupAccessStatus(
  req: AuthRequest,
  requirement: Requirement | null,
  auth: AuthConfig,
  opts: LookupOptions = {},
): 200 | 400 | 401 | 403 | 500 | 503 {
  const { log, expr, digestState, onAuthenticationInfo } = opts;
  // (The request as given, not a copy with `expr`: a copy's new shape costs every later property read.)
  const result = driveSync(accessSteps(req, requirement, auth, { lookup: { expr }, log, digestState }), answerSync);
  if (!result.ok) return result.status;
  if (result.authenticationInfo !== undefined) onAuthenticationInfo?.(result.authenticationInfo);
  return 200;
}

function answerSync(step: AccessStep): unknown {
  switch (step.op) {
    case "stat":
    case "read":
      return answerFileStepSync(step);
    case "bcrypt":
      return answerBcryptSync(step);
    case "authz":
      // A lookup's `external` providers refuse at once (they would run hook scripts): nothing waits.
      return evaluateRequire(step.requirement, step.request);
    case "wsgi-password":
    case "wsgi-realm-hash":
      // A lookup refuses the wsgi providers before it would ask them (StepOptions.lookup).
      throw new NodewsgiError("AUTH_LOOKUP_HOOK", `a lookup cannot run a hook script (${step.op})`);
  }
}
