/**
 * Access control for a lookup that cannot wait: RewriteCond -U/-F run httpd's subrequest for a
 * URL or file while the rewrite rules are being applied, synchronously. The subrequest carries
 * the main request's Authorization, so a location behind Basic authentication is reachable
 * exactly when those credentials are good for it (checked against httpd 2.4.71, the
 * rewrite-lookup-auth scenario). The steps and log lines are authorize()'s; the password and
 * group files are read with synchronous calls (into the asynchronous path's caches)
 * and the hash is checked synchronously: a bcrypt hash blocks for its cost there, as httpd's
 * subrequest blocks its worker thread.
 */
import { NodewsgiError } from "../errors";
import { textOf } from "../engine/byte-string";
import type { ErrorLog } from "../log/error-log";
import { digestFinish, digestGranted, digestPrepare, parseBasicCredentials, sharedCache, sharedGroupFiles, type AuthConfig, type AuthRequest, type AuthorizeOptions, type RealmHashOutcome } from "./authorize";
import { errnoText } from "./group-file";
import { verifyPasswordSync } from "./htpasswd";
import { evaluateRequire, type AuthzRequest, type AuthzStatus, type GroupMembership, type Requirement } from "./require";

// The same parsed files as the asynchronous path's (one copy of each file in memory).
const passwords = sharedCache;
const groupFiles = sharedGroupFiles;

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
  const say = (level: "error" | "info" | "debug", module: string, msg: string, errno?: string) =>
    log?.log(level, module, `${errno ? `${errno}: ` : ""}${req.logPrefix ?? `[client ${req.remoteAddress}] `}${msg}`);
  const uri = req.uri ?? "";
  const authType = auth.type && auth.type.toLowerCase() !== "none" ? auth.type : undefined;
  if (!requirement) {
    if (!authType) return 200;
    say("error", "authz_core", "AH01627: AuthType configured with no corresponding authorization directives");
    return 500;
  }
  const base: AuthzRequest = {
    remoteAddress: req.remoteAddress, localAddress: req.localAddress, method: req.method, env: req.env, hostName: req.hostName,
    ...(expr ? { expr } : {}),
    // mod_wsgi's providers run hook scripts, which a lookup cannot wait for: such a line is an error, said so.
    external: (name) => {
      say("error", "wsgi", `Require ${name} cannot be evaluated in a RewriteCond -U/-F or ap_expr -U/-A/-F lookup of ${textOf(uri)}: hook scripts do not run there`);
      return "error";
    },
  };
  const first: AuthzStatus = evaluateRequire(requirement, base);
  if (first === "granted") return 200;
  if (first === "error") return 500;
  // A subrequest's refusal is not logged as the main request's AH01630 is (httpd logs it at debug).
  if (first === "denied" || first === "neutral") return 403;
  if (!authType) {
    say("error", "core", `AH00027: No authentication done but request not allowed without authentication for ${textOf(uri)}. Authentication not configured?`);
    return 500;
  }
  if (authType.toLowerCase() === "digest") return lookupDigest(req, requirement, auth, base, say, log, digestState, onAuthenticationInfo);
  if (authType.toLowerCase() !== "basic") {
    say("error", "authn_core", `AH01796: AuthType ${authType} configured without corresponding module`);
    return 500;
  }
  if (!auth.name) {
    say("error", "auth_basic", `AH01615: need AuthName: ${textOf(uri)}`);
    return 500;
  }
  const creds = parseBasicCredentials(req.authorization);
  if (creds === "missing") return 401;
  if (creds === "wrong-scheme") {
    say("error", "auth_basic", `AH01614: client used wrong authentication scheme: ${textOf(uri)}`);
    return 401;
  }
  if (auth.providers?.includes("wsgi")) {
    say("error", "wsgi", `AuthBasicProvider wsgi cannot be used in a RewriteCond -U/-F or ap_expr -U/-A/-F lookup of ${textOf(uri)}: hook scripts do not run there`);
    return 500;
  }
  if (!auth.userFile) {
    say("error", "authn_file", "AH01619: AuthUserFile not specified in the configuration");
    return 500;
  }
  let hash: string | undefined;
  try {
    hash = passwords.lookupSync(auth.userFile, creds.user);
  } catch (err) {
    say("error", "authn_file", `AH01620: ${err instanceof NodewsgiError ? err.message : String(err)}`);
    return 500;
  }
  if (hash === undefined) {
    say("error", "auth_basic", `AH01618: user ${textOf(creds.user)} not found: ${textOf(uri)}`);
    return 401;
  }
  const verdict = verifyPasswordSync(creds.password, hash);
  if (!verdict.ok) {
    say("error", "auth_basic", `AH01617: user ${textOf(creds.user)}: authentication failure for "${textOf(uri)}": ${verdict.reason}`);
    return 401;
  }
  const withUser: AuthzRequest = { ...base, user: creds.user, uri, log: say };
  if (requirement.needsGroups) withUser.groups = membership(auth.groupFile, creds.user);
  const second = evaluateRequire(requirement, withUser);
  if (second === "granted") return 200;
  if (second === "error") return 500;
  say("error", "authz_core", `AH01631: user ${textOf(creds.user)}: authorization failure for "${textOf(uri)}": `);
  return 401;
}

type Say = (level: "error" | "info" | "debug", module: string, msg: string, errno?: string) => void;

function lookupDigest(
  req: AuthRequest,
  requirement: Requirement,
  auth: AuthConfig,
  base: AuthzRequest,
  say: Say,
  log: ErrorLog | undefined,
  digestState: AuthorizeOptions["digestState"],
  onAuthenticationInfo: ((value: string) => void) | undefined,
): 200 | 400 | 401 | 403 | 500 | 503 {
  const statusOf = (r: { ok: boolean; status?: number }) => (r.ok ? 200 : (r.status as 400 | 401 | 403 | 500 | 503));
  const prepared = digestPrepare(req, auth, { ...(log ? { log } : {}), ...(digestState ? { digestState } : {}) }, say);
  if ("done" in prepared) return statusOf(prepared.done);
  const p = prepared.next;
  let outcome: RealmHashOutcome = { status: "not-found" };
  for (const provider of p.settings.providers?.length ? p.settings.providers : ["file"]) {
    if (provider === "wsgi") {
      say("error", "wsgi", "the lookups of RewriteCond -U/-F do not run WSGIAuthUserScript's get_realm_hash");
      outcome = { status: "error" };
    } else if (!auth.userFile) {
      say("error", "authn_file", "AH01621: AuthUserFile not specified in the configuration");
      outcome = { status: "error" };
    } else {
      try {
        const hash = passwords.realmHashSync(auth.userFile, p.user, p.realm);
        outcome = hash === undefined ? { status: "not-found" } : { status: "found", hash };
      } catch (err) {
        say("error", "authn_file", `AH01622: Could not open password file: ${auth.userFile}`, errnoText((err as Error).cause));
        outcome = { status: "error" };
      }
    }
    if (outcome.status !== "not-found") break;
  }
  const finished = digestFinish(p, outcome);
  if ("done" in finished) return statusOf(finished.done);
  const uri = req.uri ?? "";
  const withUser: AuthzRequest = { ...base, user: p.user, uri, log: say };
  if (requirement.needsGroups) withUser.groups = membership(auth.groupFile, p.user);
  const second = evaluateRequire(requirement, withUser);
  if (second === "granted") {
    const granted = digestGranted(p, finished.verified);
    if (granted.ok && granted.authenticationInfo !== undefined) onAuthenticationInfo?.(granted.authenticationInfo);
    return 200;
  }
  if (second === "error") return 500;
  say("error", "authz_core", `AH01631: user ${textOf(p.user)}: authorization failure for "${textOf(uri)}": `);
  return statusOf(p.challenge(false));
}

function membership(file: string | undefined, user: string): GroupMembership {
  if (!file) return { kind: "no-file" };
  try {
    return { kind: "groups", file, names: groupFiles.groupsForSync(file, user) };
  } catch (err) {
    return { kind: "unreadable", file, errno: errnoText((err as Error).cause) };
  }
}
