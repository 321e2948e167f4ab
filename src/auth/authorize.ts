/**
 * Access control for one request, in Apache's order (ap_process_request_internal with
 * mod_authz_core, mod_auth_basic, mod_authn_file):
 *   1. evaluate the requirement without a user: granted -> ok (no authentication at all, so no
 *      REMOTE_USER); denied/neutral -> 403;
 *   2. denied-no-user -> authenticate (AuthType Basic): no or non-Basic credentials, unknown user,
 *      wrong password -> 401 with `WWW-Authenticate: Basic realm="AuthName"`; unreadable
 *      AuthUserFile, missing AuthName/AuthUserFile, unknown AuthType -> 500, logged;
 *   3. evaluate again with the user: granted -> ok; anything else -> 401 (AuthzForbiddenOnFailure Off).
 * Log lines carry Apache's AH numbers so operators can grep for the same messages.
 */
import type { HeaderPair } from "../http/types";
import type { ErrorLog } from "../log/error-log";
import { NodewsgiError } from "../errors";
import { textOf, toByteString } from "../engine/byte-string";
import { HtpasswdCache, verifyPassword } from "./htpasswd";
import { Requirement, evaluateRequire, type AuthzRequest } from "./require";

export interface AuthConfig {
  /** AuthType: `Basic`, `None`/undefined (no authentication). Others give 500. */
  type?: string;
  /** AuthName: the realm. */
  name?: string;
  /** AuthUserFile path. */
  userFile?: string;
}

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
}

const sharedCache = new HtpasswdCache();

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
  const log = (level: "error" | "info", module: string, msg: string) =>
    opts.log?.log(level, module, `${req.logPrefix ?? `[client ${req.remoteAddress}] `}${msg}`);
  const uri = req.uri ?? "";
  const authType = auth.type && auth.type.toLowerCase() !== "none" ? auth.type : undefined;

  if (!requirement) {
    if (authType) {
      log("error", "authz_core", "AH01627: AuthType configured with no corresponding authorization directives");
      return { ok: false, status: 500, reason: "AuthType configured with no corresponding authorization directives" };
    }
    return { ok: true, environ: {} };
  }

  const base = { remoteAddress: req.remoteAddress, localAddress: req.localAddress, method: req.method, env: req.env, hostName: req.hostName, ...(req.expr ? { expr: req.expr } : {}) };
  const first = evaluateRequire(requirement, base);
  if (first === "granted") return { ok: true, environ: {} };
  if (first === "error") return { ok: false, status: 500, reason: "authorization provider error" };
  if (first === "denied" || first === "neutral") {
    log("error", "authz_core", `AH01630: client denied by server configuration: ${textOf(req.filename ?? uri)}`);
    return { ok: false, status: 403 };
  }

  // denied-no-user: a user could change the answer, so authenticate.
  if (!authType) {
    // mod_authn_core lets the request through unauthenticated; authorization then fails with 401
    // and no challenge, since no scheme was configured to offer one.
    log("error", "authz_core", `AH01629: authorization failure (no authenticated user): ${textOf(uri)}`);
    return { ok: false, status: 401, headers: [] };
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
  if (!auth.userFile) {
    log("error", "authn_file", "AH01619: AuthUserFile not specified in the configuration");
    return { ok: false, status: 500, reason: "AuthUserFile not specified" };
  }
  let hash: string | undefined;
  try {
    hash = await (opts.htpasswd ?? sharedCache).lookup(auth.userFile, creds.user);
  } catch (err) {
    const msg = err instanceof NodewsgiError ? err.message : String(err);
    log("error", "authn_file", `AH01620: ${msg}`);
    return { ok: false, status: 500, reason: msg };
  }
  if (hash === undefined) {
    log("error", "auth_basic", `AH01618: user ${textOf(creds.user)} not found: ${textOf(uri)}`);
    return challenge(auth.name);
  }
  const verdict = await verifyPassword(creds.password, hash);
  if (!verdict.ok) {
    log("error", "auth_basic", `AH01617: user ${textOf(creds.user)}: authentication failure for "${textOf(uri)}": ${verdict.reason}`);
    return challenge(auth.name);
  }

  const second = evaluateRequire(requirement, { ...base, user: creds.user });
  if (second === "granted") {
    return { ok: true, user: creds.user, environ: { REMOTE_USER: creds.user, AUTH_TYPE: authType } };
  }
  if (second === "error") return { ok: false, status: 500, reason: "authorization provider error" };
  log("error", "authz_core", `AH01631: user ${textOf(creds.user)}: authorization failure for "${textOf(uri)}": `);
  return challenge(auth.name);
}
