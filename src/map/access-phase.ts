/**
 * The access phase of one request pass, in httpd's order: the access_checker hooks
 * (mod_access_compat's Order/Allow/Deny, then mod_wsgi's WSGIAccessScript), then
 * mod_authz_core's Require as Satisfy combines them, with Basic or Digest authentication
 * (../auth/authorize.ts) when a user could change the answer. The mapper calls `check`;
 * RewriteCond -U/-F's subrequests (./lookups.ts) use the same compiled requirements,
 * `Require expr` evaluator and Digest request. Owns what outlives a request: the compiled
 * requirements, mod_auth_digest's state and where hook scripts run.
 */
import { headerValue } from "../static/serve-file";
import type { DirSettings, ServerConfig, AuthzContainer, AuthzItem } from "../config/model";
import { evaluateExpr, ExprEvalError, type Expr, type ExprRequest } from "../config/expr";
import { logExprFailure } from "./expr-context";
import type { Engine } from "../engine/types";
import { textOf } from "../engine/byte-string";
import type { ErrorLog } from "../log/error-log";
import { compileRequire, evaluateRequire, isRequestIndependent, authorize, type AuthConfig, type Requirement, type RequireInput } from "../auth";
import { accessAllowed, accessNeedsHostName, accessRequestIndependent, doubleReverseName, satisfyFor, type AccessCompat } from "../auth/access-compat";
import { requestLogPrefix } from "../log/request-id";
import { InThreadHookRunner, type HookRunner } from "../app/hooks";
import type { HookContext } from "../auth/wsgi-hook-environ";
import { accessDeniedLine, someAuthRequired, wsgiAllowAccess } from "../auth/wsgi-access-script";
import { WsgiGroupProvider, wsgiCheckPassword, wsgiRealmHash } from "../auth/wsgi-auth-script";
import { DigestState } from "../auth/digest";
import type { MapResult } from "./map-result";
import type { LocatedPass, RequestState } from "./request-state";
import type { Located } from "./route-cache";

/** What an ap_expr reads of a request pass (./expr-request.ts; the mapper supplies its lookups). */
export type ExprRequestOf = (state: RequestState, loc: Located | undefined, uri: string, query: string | null) => ExprRequest;

export interface AccessPhaseOptions {
  readonly log: ErrorLog;
  /** Where hook scripts run (the server's ProcessHost); by default in this thread. */
  readonly hooks?: HookRunner | undefined;
  /** mod_auth_digest's secret and clients (a Server keeps one across reloads); by default the phase's own. */
  readonly digest?: DigestState | undefined;
  readonly exprRequest: ExprRequestOf;
}

export class AccessPhase {
  private readonly requirements = new WeakMap<AuthzContainer, Requirement>();
  /** Requirements with a `Require expr` line: only these get an expression evaluator. */
  private readonly exprRequirements = new WeakSet<Requirement>();
  private readonly log: ErrorLog;
  private readonly hooks: HookRunner;
  readonly digest: DigestState;
  private readonly exprRequest: ExprRequestOf;

  constructor(
    private readonly config: ServerConfig,
    private readonly engine: Engine,
    options: AccessPhaseOptions,
  ) {
    this.log = options.log;
    this.hooks = options.hooks ?? new InThreadHookRunner(options.log);
    this.digest = options.digest ?? new DigestState(config.authDigestShmemSize?.value);
    this.exprRequest = options.exprRequest;
  }

  /** null when access is granted; a Promise only when Basic authentication, a WSGIAccessScript or a host-name rule's DNS lookup runs. */
  check(state: RequestState, settings: DirSettings, uri: string, filename: string): MapResult | null | Promise<MapResult | null> {
    // The access_checker hooks run first (mod_access_compat, then mod_wsgi's WSGIAccessScript),
    // before mod_authz_core's.
    if (settings.accessCompat !== undefined || settings.wsgiAccessScript !== undefined) return this.checkAccessCompat(state, settings, settings.accessCompat, uri, filename);
    return this.checkRequire(state, settings, uri, filename);
  }

  /**
   * The access_checker phase, then Require as Satisfy says (ap_process_request_internal's switch
   * on ap_satisfies): Order/Allow/Deny, then WSGIAccessScript (../auth/wsgi-access-script.ts),
   * the first refusal ending the phase.
   */
  private checkAccessCompat(state: RequestState, settings: DirSettings, ac: AccessCompat | undefined, uri: string, filename: string): MapResult | null | Promise<MapResult | null> {
    const req = state.req;
    if (ac === undefined || !accessRequestIndependent(ac)) state.plain = false;
    const satisfy = ac === undefined ? "all" : satisfyFor(ac, req.method);
    const script = settings.wsgiAccessScript?.value;
    const decide = (allowed: boolean): MapResult | null | Promise<MapResult | null> => {
      if (allowed && script !== undefined) {
        return wsgiAllowAccess(this.hookContext(state, settings, uri), script).then((verdict) => {
          if (verdict === "ok") return satisfy === "any" ? null : this.checkRequire(state, settings, uri, filename);
          const line = accessDeniedLine(filename);
          if (satisfy !== "any") return { kind: "error", status: 403, reason: line, reasonModule: "wsgi", settings };
          // Satisfy Any: Require (with authentication) may still admit the client; mod_wsgi
          // logs the refusal only when no Require would.
          if (!someAuthRequired(settings.authz, req.method)) this.log.log("error", "wsgi", `${requestLogPrefix(req)}${textOf(line)}`);
          return this.checkRequire(state, settings, uri, filename);
        });
      }
      if (allowed) return satisfy === "any" ? null : this.checkRequire(state, settings, uri, filename);
      const line = `AH01797: client denied by server configuration: ${filename}`;
      if (satisfy !== "any") return { kind: "error", status: 403, reason: line, reasonModule: "access_compat", settings };
      // Satisfy Any: the denial is logged, and Require (with authentication) may still admit the
      // client. A plan could not repeat the log line, so none is made.
      state.plain = false;
      this.log.log("error", "access_compat", `${requestLogPrefix(req)}${textOf(line)}`);
      return this.checkRequire(state, settings, uri, filename);
    };
    // No Order/Allow/Deny here: mod_access_compat lets the request through.
    if (ac === undefined) return decide(true);
    if (accessNeedsHostName(ac)) {
      return doubleReverseName(req.remoteAddress).then((hostName) => {
        state.hostName = hostName;
        return decide(accessAllowed(ac, { remoteAddress: req.remoteAddress, env: state.env, hostName, method: req.method }));
      });
    }
    return decide(accessAllowed(ac, { remoteAddress: req.remoteAddress, env: state.env, method: req.method }));
  }

  /** What a hook script (WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript) is given for this request. */
  private hookContext(state: RequestState, settings: DirSettings, uri: string): HookContext {
    const t = state.tables;
    const req = state.req;
    return {
      req,
      uri,
      pathInfo: state.located?.loc.walk.pathInfo ?? "",
      query: state.located?.query ?? null,
      requestUri: state.requestUri,
      serverName: state.serverName,
      serverPort: state.serverPort,
      configuredName: t.configuredName,
      sentName: state.sentName,
      documentRoot: t.documentRoot,
      serverAdmin: t.serverAdmin,
      serverSoftware: t.serverBanner,
      serverSignature: t.environSignature(settings.serverSignature?.value, state.serverName, state.serverPort),
      hostName: state.hostName,
      engine: this.engine,
      log: this.log,
      runner: this.hooks,
      timeoutMs: this.hookTimeoutMs(),
      logPrefix: requestLogPrefix(req),
    };
  }

  /** How long a hook script may take: Apache's Timeout (default 60 s). */
  hookTimeoutMs(): number {
    return (this.config.main.timeout?.value ?? 60) * 1000;
  }

  /** mod_authz_core's Require, with Basic authentication when a user could change the answer. */
  private checkRequire(state: RequestState, settings: DirSettings, uri: string, filename: string): MapResult | null | Promise<MapResult | null> {
    const container = settings.authz;
    const requirement = container ? this.requirement(container) : null;
    const req = state.req;
    const authType = settings.authType?.value;
    // Nothing configured: authorize() would grant with an empty auth environ.
    if (!requirement && (authType === undefined || authType.toLowerCase() === "none")) return null;
    // `Require all granted` and the like decide the same for every request; anything else looks at it.
    if (authType || !requirement || !isRequestIndependent(requirement)) state.plain = false;
    if (requirement?.needsHostName && state.hostName === undefined) {
      // `Require host`: look the client's name up first (off the event loop), then decide.
      return doubleReverseName(req.remoteAddress).then((name) => {
        state.hostName = name;
        return this.checkRequire(state, settings, uri, filename);
      });
    }
    if (requirement && !authType) {
      // No authentication configured: host-based rules decide synchronously.
      const verdict = evaluateRequire(requirement, { remoteAddress: req.remoteAddress, localAddress: req.localAddress, method: req.method, env: state.env, hostName: state.hostName, expr: this.exprRequirements.has(requirement) ? this.requireExpr(state, uri) : undefined });
      if (verdict === "granted") return null;
      if (verdict === "denied" || verdict === "neutral") return { kind: "error", status: 403, reason: `AH01630: client denied by server configuration: ${filename}`, reasonModule: "authz_core", settings };
      // AUTHZ_GENERAL_ERROR (a `Require expr` that could not be evaluated, logged already): 500.
      if (verdict === "error") return { kind: "error", status: 500, settings };
    }
    return this.authenticate(state, settings, uri, filename, requirement);
  }

  private async authenticate(state: RequestState, settings: DirSettings, uri: string, filename: string, requirement: Requirement | null): Promise<MapResult | null> {
    const req = state.req;
    const result = await authorize(
      {
        remoteAddress: req.remoteAddress,
        localAddress: req.localAddress,
        method: req.method,
        authorization: headerValue(req.headers, "authorization"),
        uri,
        filename,
        logPrefix: requestLogPrefix(req),
        env: state.env,
        hostName: state.hostName,
        ...(requirement && this.exprRequirements.has(requirement) ? { expr: this.requireExpr(state, uri) } : {}),
        ...(isDigest(settings) ? { digest: this.digestRequest(state) } : {}),
      },
      requirement,
      authConfigOf(settings),
      { log: this.log, digestState: this.digest, ...this.wsgiAuthHooks(state, settings, uri) },
    );
    if (result.user !== undefined) state.user = result.user;
    if (result.ok) {
      state.authEnviron = result.environ;
      if (result.authenticationInfo !== undefined) state.authInfo = result.authenticationInfo;
      return null;
    }
    if (result.status === 401) return { kind: "error", status: 401, headers: result.headers, settings };
    // mod_auth_digest's 400 (a uri parameter that names another resource) and 503 (no room for a client) are logged already.
    if (result.status === 400 || result.status === 503) return { kind: "error", status: result.status, settings };
    // authorize() has logged the reason with its AH number, as httpd logs it: once.
    if (result.status === 500) return { kind: "error", status: 500, settings };
    // authorize() has logged the refusal (AH01630).
    return { kind: "error", status: 403, settings };
  }

  /** mod_wsgi's `wsgi` Basic and Digest providers and `wsgi-group` authorization for this request, when configured. */
  private wsgiAuthHooks(state: RequestState, settings: DirSettings, uri: string) {
    const user = settings.wsgiAuthUserScript;
    const group = settings.wsgiAuthGroupScript;
    const wantsUser = settings.authBasicProvider?.value.includes("wsgi") ?? false;
    const wantsHash = settings.authDigest?.value.providers?.includes("wsgi") ?? false;
    // `Require wsgi-group` needs the provider even without WSGIAuthGroupScript (it logs that).
    if (!wantsUser && !wantsHash && group === undefined && !usesExternal(settings.authz)) return {};
    const ctx = this.hookContext(state, settings, uri);
    return {
      ...(wantsUser ? { wsgiCheckPassword: wsgiCheckPassword(ctx, user) } : {}),
      ...(wantsHash ? { wsgiRealmHash: wsgiRealmHash(ctx, user) } : {}),
      external: new WsgiGroupProvider(ctx, group).status,
    };
  }

  /**
   * `Require expr`'s evaluator for this request: the located request's variables, and the user
   * once authenticated. An evaluation error is logged (AH02320) and is mod_authz_core's error.
   */
  requireExpr(state: RequestState, uri: string, pass?: LocatedPass): (expr: Expr, user: string | undefined) => boolean | null {
    return (expr, user) => {
      // A lookup's subrequest (`pass`) is evaluated as located there, the request as it was located.
      const where = pass ?? state.located!;
      const base = this.exprRequest(state, where.loc, uri, where.query);
      const ctx: ExprRequest = user === undefined ? base : { ...base, variable: (n) => (n === "REMOTE_USER" ? user : base.variable(n)) };
      try {
        return evaluateExpr(expr, ctx);
      } catch (err) {
        if (!(err instanceof ExprEvalError)) throw err;
        logExprFailure(this.log, state.req, "authz_core", expr, err);
        this.log.log("error", "authz_core", `${requestLogPrefix(state.req)}AH02320: Error evaluating expression in 'Require expr': ${err.message}`);
        return null;
      }
    };
  }

  /** What mod_auth_digest checks a Digest answer's `uri` against: the request-target, and the server as the request names it. */
  digestRequest(state: RequestState) {
    return {
      target: state.requestUri,
      serverName: state.serverName,
      serverPort: Number(state.serverPort),
      ...(state.sentPort ? { hostPort: Number(state.sentPort) } : {}),
      defaultPort: state.scheme === "https" ? 443 : 80,
    };
  }

  /** A Require container compiled, once per container (the mapper's lookups share them). */
  requirement(container: AuthzContainer): Requirement {
    let r = this.requirements.get(container);
    if (!r) {
      r = compileRequire(toRequireInput(container));
      this.requirements.set(container, r);
      if (usesExpr(container)) this.exprRequirements.add(r);
    }
    return r;
  }

  /** `requirement` has a `Require expr` line (evaluators are made only for those). */
  readsExpr(requirement: Requirement): boolean {
    return this.exprRequirements.has(requirement);
  }
}

/** Some `Require wsgi-group` line applies (mod_wsgi's authorization provider). */
function usesExternal(c: AuthzContainer | undefined): boolean {
  if (c === undefined) return false;
  return c.items.some((i) => (i.kind === "require" ? i.provider === "wsgi-group" : usesExternal(i)));
}

function usesExpr(c: AuthzItem): boolean {
  return c.kind === "require" ? c.provider === "expr" : c.items.some(usesExpr);
}

function toRequireInput(c: AuthzItem): RequireInput {
  if (c.kind === "require") {
    // Words with spaces or quotes go back in quotes: compileRequire reads the line as httpd's providers do.
    // An expression is the rest of the line as written (`Require expr` reads no words).
    const args = c.provider === "expr" ? c.args : c.args.map(confQuote);
    const line = `${c.negated ? "not " : ""}${c.provider} ${args.join(" ")}`.trim();
    // An expression as the configuration parsed it (it knows where it was written, for the log line of a failed evaluation).
    if (c.expr) return { require: line, expr: c.expr, ...(c.limit ? { limit: c.limit } : {}) };
    return c.limit ? { require: line, limit: c.limit } : line;
  }
  const items = c.items.map(toRequireInput);
  return c.kind === "all" ? { all: items } : c.kind === "none" ? { none: items } : { any: items };
}

/** A word quoted so that ap_getword_conf (confWords) gives it back. */
function confQuote(word: string): string {
  return word !== "" && !/[\s"'\\]/.test(word) ? word : `"${word.replace(/[\\"]/g, "\\$&")}"`;
}

const authConfigs = new WeakMap<DirSettings, AuthConfig>();

/** What the authentication steps read of a section's Auth* directives (made once per settings object). */
export function authConfigOf(settings: DirSettings): AuthConfig {
  let c = authConfigs.get(settings);
  if (c === undefined) {
    c = {
      ...(settings.authType ? { type: settings.authType.value } : {}),
      ...(settings.authName ? { name: settings.authName.value } : {}),
      ...(settings.authUserFile ? { userFile: settings.authUserFile.value } : {}),
      ...(settings.authGroupFile ? { groupFile: settings.authGroupFile.value } : {}),
      ...(settings.authBasicProvider ? { providers: settings.authBasicProvider.value } : {}),
      ...(settings.authDigest ? { digest: settings.authDigest.value } : {}),
    };
    authConfigs.set(settings, c);
  }
  return c;
}

/** AuthType Digest (the name is case-insensitive, as httpd's). */
export function isDigest(settings: DirSettings): boolean {
  return settings.authType?.value.toLowerCase() === "digest";
}
