/**
 * Access control for one request, in Apache's order (ap_process_request_internal with
 * mod_authz_core, mod_auth_basic or mod_auth_digest (./digest.ts), mod_authn_file), written
 * once as steps (./steps.ts) that two drivers run: authorize() (./authorize.ts) awaits the
 * I/O for a request; lookupAccessStatus() (./lookup-auth.ts) answers it synchronously for a
 * RewriteCond -U/-F lookup's subrequest, which cannot wait. The sequence:
 *   1. evaluate the requirement without a user: granted -> ok (no authentication at all, so no
 *      REMOTE_USER); denied/neutral -> 403;
 *   2. denied-no-user -> authenticate (AuthType Basic or Digest; none configured: 500, AH00027): for Basic, no or non-Basic credentials, unknown user,
 *      wrong password -> 401 with `WWW-Authenticate: Basic realm="AuthName"`; unreadable
 *      AuthUserFile, missing AuthName/AuthUserFile, unknown AuthType, a failing provider -> 500,
 *      logged; no AuthType at all -> 500 (AH00027). The AuthBasicProvider list is tried in
 *      order as mod_auth_basic does: an unknown user goes on to the next provider, anything else
 *      (granted, wrong password, failure) ends the search. AuthType Digest goes through
 *      digestPrepare/digestFinish instead (the protocol is ./digest.ts), with AuthDigestProvider's
 *      list chained the same way;
 *   3. evaluate again with the user: granted -> ok; anything else -> 401 (AuthzForbiddenOnFailure Off).
 * Refusals after the credentials were read carry the user (httpd's r->user, the access log's %u).
 * Log lines carry Apache's AH numbers so operators can grep for the same messages.
 *
 * What a lookup does differently is said here, where the steps are (StepOptions.lookup): its
 * refusal without a user is not logged (httpd logs a subrequest's at debug), and it runs no hook
 * scripts (`AuthBasicProvider wsgi`, `AuthDigestProvider wsgi`, `Require wsgi-group` fail it, logged).
 */
import type { HeaderPair } from "../http/types";
import type { ErrorLog } from "../log/error-log";
import { NodewsgiError } from "../errors";
import { textOf, toByteString } from "../engine/byte-string";
import { HtpasswdCache, verifySteps, type BcryptStep } from "./htpasswd";
import { GroupFileCache, errnoText } from "./group-file";
import type { FileStep } from "./steps";
import type { Requirement, AuthzRequest, AuthzStatus, GroupMembership } from "./require";
import {
  DigestState, authenticationInfo, escapeQuotes, checkDigestUri, defaultDigestSettings, digestChallenge, digestVerify, nowMicros, parseDigestHeader,
  type DigestHeader, type DigestLog, type DigestSuccess, type DigestRequest, type DigestSettings,
} from "./digest";

export interface AuthConfig {
  /** AuthType: `Basic`, `Digest`, `None`/undefined (no authentication). Others give 500. */
  type?: string;
  /** AuthName: the realm. */
  name?: string;
  /** AuthUserFile path. */
  userFile?: string;
  /** AuthGroupFile path, for `Require group`. */
  groupFile?: string;
  /** AuthBasicProvider, lower-case, in order (default `file`). */
  providers?: readonly string[];
  /** The section's mod_auth_digest settings (AuthDigestProvider, ...); the defaults when absent. */
  digest?: DigestSettings;
}

/** What a provider says to a Digest request (get_realm_hash): the hash of user:realm:password, when it knows the user. */
export type RealmHashOutcome =
  | { readonly status: "found"; readonly hash: string }
  | { readonly status: "not-found" }
  | { readonly status: "denied" }
  | { readonly status: "error"; readonly reason?: string };

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
  /** Environment variables for `Require env` (and AuthDigestEnableQueryStringHack). */
  env?: Readonly<Record<string, string | undefined>> | ReadonlyMap<string, string>;
  /** Evaluates `Require expr` expressions (AuthzRequest.expr). */
  expr?: AuthzRequest["expr"];
  /** For AuthType Digest: the request-target and server identity the `uri` parameter is checked against. */
  digest?: Omit<DigestRequest, "method" | "uri" | "queryStringHack" | "time"> & { readonly time?: bigint };
}

export type AuthResult =
  | {
      ok: true;
      /** The authenticated user (latin1-decoded bytes, as WSGI native strings), when there is one. */
      user?: string;
      /** Keys the mapper must add to the environ: `REMOTE_USER` and `AUTH_TYPE` after authentication, else none. */
      environ: Readonly<Record<string, string>>;
      /** Digest: the response's `Authentication-Info` (mod_auth_digest adds it to r->headers_out). */
      authenticationInfo?: string;
    }
  | ({ ok: false } & AttributedTo & (
    | { status: 401; headers: readonly HeaderPair[] }
    /** Digest: the `uri` parameter does not name the request (AH01783, AH01786). */
    | { status: 400 }
    | { status: 403 }
    | { status: 500; reason: string }
    /** Digest: no room to track a client this configuration needs tracked (AH01769). */
    | { status: 503 }));

/** `r` as refused with `user` set (r->user), for the access log. */
function attributed(r: AuthResult, user: string): AuthResult {
  return r.ok ? r : { ...r, user };
}

/** A refusal after the credentials were read: the user httpd had set (r->user), which the access log's %u shows. */
interface AttributedTo {
  user?: string;
}

export interface AuthorizeOptions {
  log?: ErrorLog;
  /** Parsed AuthUserFile cache; one per server is plenty. */
  htpasswd?: HtpasswdCache;
  /** Parsed AuthGroupFile cache; one per server is plenty. */
  groupFiles?: GroupFileCache;
  /** The `wsgi` provider (WSGIAuthUserScript): the user (bytes, latin-1) and the password. */
  wsgiCheckPassword?: (user: string, password: Buffer) => Promise<AuthnOutcome>;
  /** The `wsgi` Digest provider (WSGIAuthUserScript's get_realm_hash): the user and realm (bytes). */
  wsgiRealmHash?: (user: string, realm: string) => Promise<RealmHashOutcome>;
  /** The server's Digest secret and clients; a process-wide one when absent. */
  digestState?: DigestState;
  /** Authorization providers outside mod_authz_core (`Require wsgi-group`). */
  external?: AuthzRequest["external"];
}

/**
 * What the steps ask their driver for, besides a file's stat and text (FileStep) and a bcrypt
 * check (BcryptStep):
 *   - `authz`: the requirement evaluated for `request` -> AuthzStatus (evaluateRequireAsync when
 *     the request has `external` providers that may have to wait, evaluateRequire otherwise);
 *   - `wsgi-password` / `wsgi-realm-hash`: WSGIAuthUserScript's check_password / get_realm_hash
 *     -> AuthnOutcome / RealmHashOutcome. A lookup never asks (it refuses those providers first).
 */
export type AccessStep =
  | FileStep
  | BcryptStep
  | { readonly op: "authz"; readonly requirement: Requirement; readonly request: AuthzRequest }
  | { readonly op: "wsgi-password"; readonly hook: NonNullable<AuthorizeOptions["wsgiCheckPassword"]>; readonly user: string; readonly password: Buffer }
  | { readonly op: "wsgi-realm-hash"; readonly hook: NonNullable<AuthorizeOptions["wsgiRealmHash"]>; readonly user: string; readonly realm: string };

export interface StepOptions extends AuthorizeOptions {
  /**
   * A RewriteCond -U/-F (ap_expr -U/-A/-F) lookup's subrequest (see the top of this file), with
   * `Require expr`'s evaluator as located there, which replaces the request's (AuthRequest.expr).
   */
  lookup?: { readonly expr: AuthzRequest["expr"] };
}

type Steps<R> = Generator<AccessStep, R, unknown>;

/** The parsed AuthUserFile and AuthGroupFile files of callers that bring no cache (the mapper's requests and lookups alike: one copy of each file in memory). */
const sharedCache = new HtpasswdCache();
const sharedGroupFiles = new GroupFileCache();
let sharedDigest: DigestState | undefined;

export type Log = (level: "error" | "info" | "debug", module: string, msg: string, errno?: string) => void;

/** Decide access for a request against a compiled requirement (null: no Require applies), as steps. */
export function* accessSteps(req: AuthRequest, requirement: Requirement | null, auth: AuthConfig, opts: StepOptions): Steps<AuthResult> {
  // httpd prints an error's `(errno)text: ` before the client prefix.
  const log: Log = (level, module, msg, errno) =>
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

  // mod_wsgi's authorization providers run hook scripts, which a lookup cannot wait for: such a line is an error there, said so.
  const external: AuthzRequest["external"] = opts.lookup
    ? (name) => {
        log("error", "wsgi", `Require ${name} cannot be evaluated in a RewriteCond -U/-F or ap_expr -U/-A/-F lookup of ${textOf(uri)}: hook scripts do not run there`);
        return "error";
      }
    : opts.external;
  const base = authzRequest(req, opts.lookup ? opts.lookup.expr : req.expr, external, undefined, undefined, undefined);
  const first = (yield { op: "authz", requirement, request: base }) as AuthzStatus;
  if (first === "granted") return { ok: true, environ: {} };
  if (first === "error") return { ok: false, status: 500, reason: "authorization provider error" };
  if (first === "denied" || first === "neutral") {
    // A subrequest's refusal is not logged as the main request's AH01630 is (httpd logs it at debug).
    if (!opts.lookup) log("error", "authz_core", `AH01630: client denied by server configuration: ${textOf(req.filename ?? uri)}`);
    return { ok: false, status: 403 };
  }

  // denied-no-user: a user could change the answer, so authenticate.
  if (!authType) {
    // No authentication module takes the request (AuthType unset or None): httpd's core refuses
    // to go on to authorization without a user.
    log("error", "core", `AH00027: No authentication done but request not allowed without authentication for ${textOf(uri)}. Authentication not configured?`);
    return { ok: false, status: 500, reason: "no authentication configured for a requirement that needs a user" };
  }
  if (authType.toLowerCase() === "digest") return yield* digestSteps(req, requirement, auth, opts, base, log);
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
  const providers = auth.providers?.length ? auth.providers : ["file"];
  if (opts.lookup && providers.includes("wsgi")) {
    // Refused before any provider runs, whatever its place in the list.
    log("error", "wsgi", `AuthBasicProvider wsgi cannot be used in a RewriteCond -U/-F or ap_expr -U/-A/-F lookup of ${textOf(uri)}: hook scripts do not run there`);
    return { ok: false, status: 500, reason: "AuthBasicProvider wsgi in a lookup" };
  }
  // mod_auth_basic's provider loop: on to the next provider only while the user is unknown.
  let outcome: AuthnOutcome = NOT_FOUND;
  let mismatch = "Password Mismatch";
  for (const provider of providers) {
    if (provider === "wsgi") {
      outcome = opts.wsgiCheckPassword
        ? ((yield { op: "wsgi-password", hook: opts.wsgiCheckPassword, user: creds.user, password: creds.password }) as AuthnOutcome)
        : noWsgiScript(opts.log);
    } else {
      const file = yield* fileProvider(auth, creds.user, creds.password, opts, log);
      outcome = file.outcome;
      if (file.reason) mismatch = file.reason;
    }
    if (outcome.status !== "not-found") break;
  }
  // mod_auth_basic has set r->user to the credentials' user by now.
  if (outcome.status === "error") return { ok: false, status: 500, reason: outcome.reason ?? "", user: creds.user };
  if (outcome.status === "not-found") {
    log("error", "auth_basic", `AH01618: user ${textOf(creds.user)} not found: ${textOf(uri)}`);
    return attributed(challenge(auth.name), creds.user);
  }
  if (outcome.status === "denied") {
    log("error", "auth_basic", `AH01617: user ${textOf(creds.user)}: authentication failure for "${textOf(uri)}": ${mismatch}`);
    return attributed(challenge(auth.name), creds.user);
  }
  const user = outcome.user ?? creds.user;
  const second = yield* authorizeUser(user, requirement, auth, opts, base, log, uri);
  if (second === "granted") {
    return { ok: true, user, environ: { REMOTE_USER: user, AUTH_TYPE: authType } };
  }
  if (second === "error") return { ok: false, status: 500, reason: "authorization provider error", user };
  return attributed(challenge(auth.name), user);
}

/**
 * The request as mod_authz_core's providers see it, every field written out: one object shape
 * with and without a user (a `{ ...base, user }` copy costs microseconds per request, and every
 * read of it after).
 */
function authzRequest(
  from: Pick<AuthzRequest, "remoteAddress" | "localAddress" | "method" | "env" | "hostName">,
  expr: AuthzRequest["expr"],
  external: AuthzRequest["external"],
  user: string | undefined,
  uri: string | undefined,
  log: Log | undefined,
): AuthzRequest {
  return { remoteAddress: from.remoteAddress, localAddress: from.localAddress, method: from.method, env: from.env, hostName: from.hostName, expr, external, user, uri, log, groups: undefined };
}

/** The user's groups in AuthGroupFile, or why there are none (Require group logs it when evaluated). */
function* groupMembership(file: string | undefined, user: string, cache: GroupFileCache): Steps<GroupMembership> {
  if (!file) return { kind: "no-file" };
  try {
    return { kind: "groups", file, names: yield* cache.groupsSteps(file, user) };
  } catch (err) {
    return { kind: "unreadable", file, errno: errnoText((err as Error).cause) };
  }
}

/** The requirement evaluated again with the authenticated user; a refusal is logged (AH01631). */
function* authorizeUser(user: string, requirement: Requirement, auth: AuthConfig, opts: StepOptions, base: AuthzRequest, log: Log, uri: string): Steps<AuthzStatus> {
  const withUser = authzRequest(base, base.expr, base.external, user, uri, log);
  if (requirement.needsGroups) withUser.groups = yield* groupMembership(auth.groupFile, user, opts.groupFiles ?? sharedGroupFiles);
  const second = (yield { op: "authz", requirement, request: withUser }) as AuthzStatus;
  if (second !== "granted" && second !== "error") log("error", "authz_core", `AH01631: user ${textOf(user)}: authorization failure for "${textOf(uri)}": `);
  return second;
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

/** A Digest request past the checks that need no provider (digestPrepare), on its way to digestFinish. */
interface DigestInProgress {
  readonly header: DigestHeader;
  readonly user: string;
  readonly realm: string;
  readonly settings: DigestSettings;
  readonly state: DigestState;
  readonly request: DigestRequest;
  readonly log: DigestLog;
  /** A 401 with a new challenge (or 503 when no client entry can be had). */
  challenge(stale: boolean): AuthResult;
}

/**
 * mod_auth_digest's authenticate_digest_user up to the providers: AuthName, the header's
 * syntax, the uri parameter, opaque, realm and algorithm. A final result, or the request to
 * ask the AuthDigestProvider list about (in order: an unknown user goes on to the next
 * provider, anything else ends it).
 */
function digestPrepare(req: AuthRequest, auth: AuthConfig, opts: Pick<AuthorizeOptions, "log" | "digestState">, log: Log): { done: AuthResult } | { next: DigestInProgress } {
  const uri = req.uri ?? "";
  if (!auth.name) {
    log("error", "auth_digest", `AH01780: need AuthName: ${textOf(uri)}`);
    return { done: { ok: false, status: 500, reason: "AuthType Digest without AuthName" } };
  }
  // Log lines are made of byte strings (the header's values, the realm, the path): written as their text.
  const dlog: DigestLog = (level, module, msg, server) => (server ? opts.log?.log(level, module, textOf(msg)) : log(level, module, textOf(msg)));
  // ap_auth_name: AuthName with its quotes escaped, in the challenge and in what is hashed alike.
  const realm = escapeQuotes(toByteString(auth.name));
  const settings = auth.digest ?? defaultDigestSettings();
  const state = opts.digestState ?? (sharedDigest ??= new DigestState());
  const d = req.digest;
  const request: DigestRequest = {
    method: req.method ?? "GET",
    uri,
    target: d?.target ?? uri,
    serverName: d?.serverName ?? "localhost",
    serverPort: d?.serverPort ?? 80,
    ...(d?.hostPort !== undefined ? { hostPort: d.hostPort } : {}),
    defaultPort: d?.defaultPort ?? 80,
    queryStringHack: envHas(req.env, "AuthDigestEnableQueryStringHack"),
    time: d?.time ?? nowMicros(),
  };
  const header = parseDigestHeader(req.authorization);
  const challenge = (stale: boolean): AuthResult => {
    const c = digestChallenge(state, settings, realm, header, stale, request.time, dlog);
    return c.status === 401 ? { ok: false, status: 401, headers: c.headers } : { ok: false, status: 503 };
  };
  const h = header;
  if (h.status !== "valid") {
    if (h.status === "not-digest") dlog("error", "auth_digest", `AH01781: client used wrong authentication scheme \`${h.scheme}': ${uri}`);
    else if (h.status === "invalid") dlog("error", "auth_digest", `AH01782: missing user, realm, nonce, uri, digest, cnonce, or nonce_count in authorization header: ${uri}`);
    return { done: challenge(false) };
  }
  // mod_auth_digest has set r->user (and AUTH_TYPE) by now, whatever comes of it.
  const user = h.username!;
  if (checkDigestUri(h, request, dlog) !== null) return { done: { ok: false, status: 400, user } };
  const userChallenge = (stale: boolean) => attributed(challenge(stale), user);
  if (h.opaque !== undefined && h.opaqueNum === 0) {
    dlog("error", "auth_digest", `AH01787: received invalid opaque - got \`${h.opaque}'`);
    return { done: userChallenge(false) };
  }
  if (h.realm !== realm) {
    dlog("error", "auth_digest", `AH01788: realm mismatch - got \`${h.realm}' but expected \`${realm}'`);
    return { done: userChallenge(false) };
  }
  if (h.algorithm !== undefined && h.algorithm.toLowerCase() !== "md5") {
    dlog("error", "auth_digest", `AH01789: unknown algorithm \`${h.algorithm}' received: ${uri}`);
    return { done: userChallenge(false) };
  }
  return { next: { header, user, realm, settings, state, request, log: dlog, challenge: userChallenge } };
}

/** After the providers: their answer, then qop, the response, the nonce and the nonce-count. */
function digestFinish(p: DigestInProgress, outcome: RealmHashOutcome): { done: AuthResult } | { verified: DigestSuccess } {
  const { user, realm, request } = p;
  if (outcome.status === "not-found") {
    p.log("error", "auth_digest", `AH01790: user \`${user}' in realm \`${realm}' not found: ${request.uri}`);
    return { done: p.challenge(false) };
  }
  if (outcome.status === "denied") {
    p.log("error", "auth_digest", `AH01791: user \`${user}' in realm \`${realm}' denied by provider: ${request.uri}`);
    return { done: p.challenge(false) };
  }
  if (outcome.status === "error") return { done: { ok: false, status: 500, reason: outcome.reason ?? "", user } };
  const v = digestVerify(p.state, p.settings, realm, p.header, outcome.hash, request, p.log);
  if (!v.ok) return { done: v.result.status === 401 ? { ok: false, status: 401, headers: v.result.headers, user } : { ok: false, status: 503, user } };
  return { verified: v.success };
}

/** The successful result of a Digest request, with its Authentication-Info. */
function digestGranted(p: DigestInProgress, verified: DigestSuccess): AuthResult {
  return { ok: true, user: p.user, environ: { REMOTE_USER: p.user, AUTH_TYPE: "Digest" }, authenticationInfo: authenticationInfo(p.state, p.settings, p.realm, verified, p.request.time) };
}

/** AuthType Digest (./digest.ts has the protocol), then authorization with the user. */
function* digestSteps(req: AuthRequest, requirement: Requirement, auth: AuthConfig, opts: StepOptions, base: AuthzRequest, log: Log): Steps<AuthResult> {
  const prepared = digestPrepare(req, auth, opts, log);
  if ("done" in prepared) return prepared.done;
  const p = prepared.next;
  let outcome: RealmHashOutcome = { status: "not-found" };
  for (const provider of p.settings.providers?.length ? p.settings.providers : ["file"]) {
    if (provider === "wsgi") {
      if (opts.lookup) {
        // Refused in its turn (a file provider before it has answered already).
        log("error", "wsgi", "the lookups of RewriteCond -U/-F do not run WSGIAuthUserScript's get_realm_hash");
        outcome = { status: "error" };
      } else {
        outcome = opts.wsgiRealmHash ? ((yield { op: "wsgi-realm-hash", hook: opts.wsgiRealmHash, user: p.user, realm: p.realm }) as RealmHashOutcome) : noWsgiScript(opts.log);
      }
    } else outcome = yield* fileRealmHash(auth, p.user, p.realm, opts, log);
    if (outcome.status !== "not-found") break;
  }
  const finished = digestFinish(p, outcome);
  if ("done" in finished) return finished.done;
  const second = yield* authorizeUser(p.user, requirement, auth, opts, base, log, req.uri ?? "");
  if (second === "granted") return digestGranted(p, finished.verified);
  if (second === "error") return { ok: false, status: 500, reason: "authorization provider error", user: p.user };
  // mod_authz_core's ap_note_auth_failure: mod_auth_digest's challenge, not stale.
  return p.challenge(false);
}

/** Whether a request variable is set (apr_table_get on r->subprocess_env). */
function envHas(env: AuthRequest["env"], name: string): boolean {
  if (env === undefined) return false;
  return env instanceof Map ? env.has(name) : (env as Readonly<Record<string, string | undefined>>)[name] !== undefined;
}

/** mod_authn_file's get_realm_hash: the first `user:realm:hash` line of AuthUserFile. */
function* fileRealmHash(auth: AuthConfig, user: string, realm: string, opts: StepOptions, log: Log): Steps<RealmHashOutcome> {
  if (!auth.userFile) {
    log("error", "authn_file", "AH01621: AuthUserFile not specified in the configuration");
    return { status: "error", reason: "AuthUserFile not specified" };
  }
  let hash: string | undefined;
  try {
    hash = yield* (opts.htpasswd ?? sharedCache).realmHashSteps(auth.userFile, user, realm);
  } catch (err) {
    log("error", "authn_file", `AH01622: Could not open password file: ${auth.userFile}`, errnoText((err as Error).cause));
    return { status: "error", reason: `Could not open password file: ${auth.userFile}` };
  }
  return hash === undefined ? { status: "not-found" } : { status: "found", hash };
}

const NOT_FOUND: AuthnOutcome = { status: "not-found" };

/** `AuthBasicProvider wsgi` / `AuthDigestProvider wsgi` where no WSGIAuthUserScript applies (mod_wsgi logs it without the client). */
export function noWsgiScript(log: ErrorLog | undefined): { status: "error" } {
  log?.log("error", "wsgi", `mod_wsgi (pid=${process.pid}): Location of WSGI user authentication script not provided.`);
  return { status: "error" };
}

/** mod_authn_file: the AuthUserFile entry of the user, and its hash checked (with the reason of a mismatch). */
function* fileProvider(auth: AuthConfig, user: string, password: Buffer, opts: StepOptions, log: Log): Steps<{ outcome: AuthnOutcome; reason?: string }> {
  if (!auth.userFile) {
    log("error", "authn_file", "AH01619: AuthUserFile not specified in the configuration");
    return { outcome: { status: "error", reason: "AuthUserFile not specified" } };
  }
  let hash: string | undefined;
  try {
    hash = yield* (opts.htpasswd ?? sharedCache).lookupSteps(auth.userFile, user);
  } catch (err) {
    const msg = err instanceof NodewsgiError ? err.message : String(err);
    log("error", "authn_file", `AH01620: ${msg}`);
    return { outcome: { status: "error", reason: msg } };
  }
  if (hash === undefined) return { outcome: NOT_FOUND };
  const verdict = yield* verifySteps(password, hash);
  return verdict.ok ? { outcome: { status: "granted" } } : { outcome: { status: "denied" }, reason: verdict.reason };
}
