/**
 * Access control for one request, in Apache's order (ap_process_request_internal with
 * mod_authz_core, mod_auth_basic, mod_authn_file):
 *   1. evaluate the requirement without a user: granted -> ok (no authentication at all, so no
 *      REMOTE_USER); denied/neutral -> 403;
 *   2. denied-no-user -> authenticate (AuthType Basic; none configured: 500, AH00027): no or non-Basic credentials, unknown user,
 *      wrong password -> 401 with `WWW-Authenticate: Basic realm="AuthName"`; unreadable
 *      AuthUserFile, missing AuthName/AuthUserFile, unknown AuthType, a failing provider -> 500,
 *      logged; no AuthType at all -> 500 (AH00027). The AuthBasicProvider list is tried in
 *      order as mod_auth_basic does: an unknown user goes on to the next provider, anything else
 *      (granted, wrong password, failure) ends the search;
 *   3. evaluate again with the user: granted -> ok; anything else -> 401 (AuthzForbiddenOnFailure Off).
 * Log lines carry Apache's AH numbers so operators can grep for the same messages.
 */
import type { HeaderPair } from "../http/types";
import type { ErrorLog } from "../log/error-log";
import { NodewsgiError } from "../errors";
import { textOf, toByteString } from "../engine/byte-string";
import { HtpasswdCache, verifyPassword } from "./htpasswd";
import { GroupFileCache, errnoText } from "./group-file";
import { Requirement, evaluateRequire, evaluateRequireAsync, type AuthzRequest, type AuthzStatus, type GroupMembership } from "./require";

export interface AuthConfig {
  /** AuthType: `Basic`, `None`/undefined (no authentication). Others give 500. */
  type?: string;
  /** AuthName: the realm. */
  name?: string;
  /** AuthUserFile path. */
  userFile?: string;
  /** AuthGroupFile path, for `Require group`. */
  groupFile?: string;
  /** AuthBasicProvider, lower-case, in order (default `file`). */
  providers?: readonly string[];
}

/** What an authentication provider says about credentials (httpd's authn_status). */
export type AuthnOutcome =
  /** `user`: the name the request goes on with, when the provider renamed it. */
  | { readonly status: "granted"; readonly user?: string }
  | { readonly status: "denied" }
  | { readonly status: "not-found" }
  /** AUTH_GENERAL_ERROR: 500; the provider has logged why (`reason`: what the 500 result carries). */
  | { readonly status: "error"; readonly reason?: string };

export interface AuthRequest {
  remoteAddress: string;
  localAddress?: string;
  method?: string;
  /** The request's Authorization header value, if any (first one). */
  authorization?: string;
  /** Request path, for log messages. */
  uri?: string;
  /** What log lines start with (the client and request id, as the site's own lines); `[client ADDR] ` by default. */
  logPrefix?: string;
  /** The mapped file, which AH01630 names (httpd's r->filename); the path when absent. */
  filename?: string;
  /** The client's double-reverse name, looked up beforehand when a `Require host` needs it. */
  hostName?: string | null;
  /** Environment variables for `Require env`. */
  env?: Readonly<Record<string, string | undefined>> | ReadonlyMap<string, string>;
  /** Evaluates `Require expr` expressions (AuthzRequest.expr). */
  expr?: AuthzRequest["expr"];
}

export type AuthResult =
  | {
      ok: true;
      /** The authenticated user (latin1-decoded bytes, as WSGI native strings), when there is one. */
      user?: string;
      /** Keys the mapper must add to the environ: `REMOTE_USER` and `AUTH_TYPE` after authentication, else none. */
      environ: Readonly<Record<string, string>>;
    }
  | { ok: false; status: 401; headers: readonly HeaderPair[] }
  | { ok: false; status: 403 }
  | { ok: false; status: 500; reason: string };

export interface AuthorizeOptions {
  log?: ErrorLog;
  /** Parsed AuthUserFile cache; one per server is plenty. */
  htpasswd?: HtpasswdCache;
  /** Parsed AuthGroupFile cache; one per server is plenty. */
  groupFiles?: GroupFileCache;
  /** The `wsgi` provider (WSGIAuthUserScript): the user (bytes, latin-1) and the password. */
  wsgiCheckPassword?: (user: string, password: Buffer) => Promise<AuthnOutcome>;
  /** Authorization providers outside mod_authz_core (`Require wsgi-group`). */
  external?: AuthzRequest["external"];
}

const sharedCache = new HtpasswdCache();
const sharedGroupFiles = new GroupFileCache();

/** The user's groups in AuthGroupFile, or why there are none (Require group logs it when evaluated). */
async function groupMembership(file: string | undefined, user: string, cache: GroupFileCache): Promise<GroupMembership> {
  if (!file) return { kind: "no-file" };
  try {
    return { kind: "groups", file, names: await cache.groupsFor(file, user) };
  } catch (err) {
    return { kind: "unreadable", file, errno: errnoText((err as Error).cause) };
  }
}

/** ap_escape_quotes: backslash every `"` not already escaped. */
function escapeQuotes(s: string): string {
  return s.replace(/\\(.)|"/g, (m, esc: string | undefined) => (esc !== undefined ? m : '\\"'));
}

function challenge(realm: string): { ok: false; status: 401; headers: readonly HeaderPair[] } {
  // The realm (AuthName, configuration text) goes out as its bytes, as httpd sends it.
  return { ok: false, status: 401, headers: [["WWW-Authenticate", `Basic realm="${escapeQuotes(toByteString(realm))}"`]] };
}

/**
 * Decode `Authorization: Basic ...` as mod_auth_basic does: scheme case-insensitive, base64
 * decoded leniently, user up to the first colon, password the rest (empty without a colon).
 */
export function parseBasicCredentials(header: string | undefined): { user: string; password: Buffer } | "missing" | "wrong-scheme" {
  if (header === undefined) return "missing";
  const m = /^\s*(\S+)\s*(.*)$/.exec(header);
  if (!m || m[1]!.toLowerCase() !== "basic") return "wrong-scheme";
  const decoded = Buffer.from(m[2]!.trim(), "base64");
  const colon = decoded.indexOf(0x3a);
  const user = (colon < 0 ? decoded : decoded.subarray(0, colon)).toString("latin1");
  const password = colon < 0 ? Buffer.alloc(0) : decoded.subarray(colon + 1);
  return { user, password };
}

/** Decide access for a request against a compiled requirement (null: no Require applies). */
export async function authorize(
  req: AuthRequest,
  requirement: Requirement | null,
  auth: AuthConfig = {},
  opts: AuthorizeOptions = {},
): Promise<AuthResult> {
  // httpd prints an error's `(errno)text: ` before the client prefix.
  const log = (level: "error" | "info" | "debug", module: string, msg: string, errno?: string) =>
    opts.log?.log(level, module, `${errno ? `${errno}: ` : ""}${req.logPrefix ?? `[client ${req.remoteAddress}] `}${msg}`);
  const uri = req.uri ?? "";
  const authType = auth.type && auth.type.toLowerCase() !== "none" ? auth.type : undefined;

  if (!requirement) {
    if (authType) {
      log("error", "authz_core", "AH01627: AuthType configured with no corresponding authorization directives");
      return { ok: false, status: 500, reason: "AuthType configured with no corresponding authorization directives" };
    }
    return { ok: true, environ: {} };
  }

  const base: AuthzRequest = { remoteAddress: req.remoteAddress, localAddress: req.localAddress, method: req.method, env: req.env, hostName: req.hostName, ...(req.expr ? { expr: req.expr } : {}), ...(opts.external ? { external: opts.external } : {}) };
  // Only providers outside mod_authz_core (wsgi-group) may have to wait for an answer.
  const evaluate = (r: AuthzRequest): AuthzStatus | Promise<AuthzStatus> => (opts.external ? evaluateRequireAsync(requirement, r) : evaluateRequire(requirement, r));
  const firstEval = evaluate(base);
  const first = firstEval instanceof Promise ? await firstEval : firstEval;
  if (first === "granted") return { ok: true, environ: {} };
  if (first === "error") return { ok: false, status: 500, reason: "authorization provider error" };
  if (first === "denied" || first === "neutral") {
    log("error", "authz_core", `AH01630: client denied by server configuration: ${textOf(req.filename ?? uri)}`);
    return { ok: false, status: 403 };
  }

  // denied-no-user: a user could change the answer, so authenticate.
  if (!authType) {
    // No authentication module takes the request (AuthType unset or None): httpd's core refuses
    // to go on to authorization without a user.
    log("error", "core", `AH00027: No authentication done but request not allowed without authentication for ${textOf(uri)}. Authentication not configured?`);
    return { ok: false, status: 500, reason: "no authentication configured for a requirement that needs a user" };
  }
  if (authType.toLowerCase() !== "basic") {
    log("error", "authn_core", `AH01796: AuthType ${authType} configured without corresponding module`);
    return { ok: false, status: 500, reason: `AuthType ${authType} is not supported` };
  }
  if (!auth.name) {
    log("error", "auth_basic", `AH01615: need AuthName: ${textOf(uri)}`);
    return { ok: false, status: 500, reason: "AuthType Basic without AuthName" };
  }
  const creds = parseBasicCredentials(req.authorization);
  if (creds === "missing") return challenge(auth.name);
  if (creds === "wrong-scheme") {
    log("error", "auth_basic", `AH01614: client used wrong authentication scheme: ${textOf(uri)}`);
    return challenge(auth.name);
  }
  // mod_auth_basic's provider loop: on to the next provider only while the user is unknown.
  let outcome: AuthnOutcome = NOT_FOUND;
  let mismatch = "Password Mismatch";
  for (const provider of auth.providers?.length ? auth.providers : ["file"]) {
    if (provider === "wsgi") {
      outcome = opts.wsgiCheckPassword ? await opts.wsgiCheckPassword(creds.user, creds.password) : noWsgiScript(opts);
    } else {
      const file = await fileProvider(auth, creds.user, creds.password, opts, log);
      outcome = file.outcome;
      if (file.reason) mismatch = file.reason;
    }
    if (outcome.status !== "not-found") break;
  }
  if (outcome.status === "error") return { ok: false, status: 500, reason: outcome.reason ?? "" };
  if (outcome.status === "not-found") {
    log("error", "auth_basic", `AH01618: user ${textOf(creds.user)} not found: ${textOf(uri)}`);
    return challenge(auth.name);
  }
  if (outcome.status === "denied") {
    log("error", "auth_basic", `AH01617: user ${textOf(creds.user)}: authentication failure for "${textOf(uri)}": ${mismatch}`);
    return challenge(auth.name);
  }
  const user = outcome.user ?? creds.user;

  const withUser: AuthzRequest = { ...base, user, uri, log };
  if (requirement.needsGroups) withUser.groups = await groupMembership(auth.groupFile, user, opts.groupFiles ?? sharedGroupFiles);
  const secondEval = evaluate(withUser);
  const second = secondEval instanceof Promise ? await secondEval : secondEval;
  if (second === "granted") {
    return { ok: true, user, environ: { REMOTE_USER: user, AUTH_TYPE: authType } };
  }
  if (second === "error") return { ok: false, status: 500, reason: "authorization provider error" };
  log("error", "authz_core", `AH01631: user ${textOf(user)}: authorization failure for "${textOf(uri)}": `);
  return challenge(auth.name);
}

const NOT_FOUND: AuthnOutcome = { status: "not-found" };

/** `AuthBasicProvider wsgi` where no WSGIAuthUserScript applies (mod_wsgi logs it without the client). */
function noWsgiScript(opts: AuthorizeOptions): AuthnOutcome {
  opts.log?.log("error", "wsgi", `mod_wsgi (pid=${process.pid}): Location of WSGI user authentication script not provided.`);
  return { status: "error" };
}

/** mod_authn_file: the AuthUserFile entry of the user, and its hash checked (with the reason of a mismatch). */
async function fileProvider(
  auth: AuthConfig,
  user: string,
  password: Buffer,
  opts: AuthorizeOptions,
  log: (level: "error" | "info", module: string, msg: string) => void,
): Promise<{ outcome: AuthnOutcome; reason?: string }> {
  if (!auth.userFile) {
    log("error", "authn_file", "AH01619: AuthUserFile not specified in the configuration");
    return { outcome: { status: "error", reason: "AuthUserFile not specified" } };
  }
  let hash: string | undefined;
  try {
    hash = await (opts.htpasswd ?? sharedCache).lookup(auth.userFile, user);
  } catch (err) {
    const msg = err instanceof NodewsgiError ? err.message : String(err);
    log("error", "authn_file", `AH01620: ${msg}`);
    return { outcome: { status: "error", reason: msg } };
  }
  if (hash === undefined) return { outcome: NOT_FOUND };
  const verdict = await verifyPassword(password, hash);
  return verdict.ok ? { outcome: { status: "granted" } } : { outcome: { status: "denied" }, reason: verdict.reason };
}
