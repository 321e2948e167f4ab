/**
 * The map phase: Apache's request processing up to the handler, in Apache's order. This file is
 * the sequence; each phase's details are in a module of its own.
 *
 *   parse target -> decode/normalise -> virtual host (host.ts, host-tables.ts)
 *   -> translate: server mod_rewrite (rewrite-hooks.ts), Redirect, then Alias/AliasMatch,
 *      WSGIScriptAlias*, DocumentRoot (locate.ts); RewriteEngine and a location-wide Redirect
 *      read there as <Location> and early <If> sections set them (earlySettings)
 *   -> directory walk (PATH_INFO, walk.ts) -> sections (+ .htaccess, sections.ts) -> handler
 *      (SetHandler/AddHandler, H=), kept per URL-path (route-cache.ts)
 *   -> SetEnvIf (setenvif.ts) -> <If> sections (if-sections.ts)
 *   -> access: Allow/Deny, WSGIAccessScript, Require, Basic/Digest (access-phase.ts)
 *   -> MultiViews (negotiation-handler.ts) -> per-dir mod_rewrite -> section Redirects -> mod_dir
 *   -> the handler's own checks (mod_wsgi's here, a type map's in negotiation-handler.ts)
 *   -> a MapResult the site serves (map-result.ts).
 *
 * What ap_expr and rewrite conditions read of a request is expr-request.ts, and their -U/-F
 * subrequests are lookups.ts; what a request carries from phase to phase is request-state.ts.
 * Internal redirects (DirectoryIndex, MultiViews, type maps, per-directory rewrites) loop back to
 * translate with a new URL-path, at most LIMIT_INTERNAL_RECURSION times, as Apache does. An
 * application request whose mapping read nothing but its path, Host and listener leaves a route
 * plan (route-plan.ts) that answers the next one.
 */
import { headerValue } from "../static/serve-file";
import { refusalHeaders } from "../http/request-checks";
import * as path from "node:path";
import * as fs from "node:fs";
import type { DirSettings, ServerConfig, HostConfig, HeaderDirective } from "../config/model";
import { DEFAULT_LIMIT_REQUEST_BODY, effectiveOptions } from "../config/model";
import { evaluateString, ExprEvalError } from "../config/expr";
import { exprContext, logExprFailure } from "./expr-context";
import type { Engine, ProxyList } from "../engine/types";
import { fsPath, toByteString } from "../engine/byte-string";
import type { ErrorLog } from "../log/error-log";
import type { HeaderPair } from "../http/types";
import { splitTarget } from "./request-target";
import { requestHost, requestHostConfig, selectHost, configuredName, httpScheme, identityName, identityPort, serverIdentity, serverAdmin, serverBanner, serverSignature } from "./host";
import { HostTables } from "./host-tables";
import { findPathInfo, noTwoSlashes, STAT_TTL_MS, type WalkResult } from "./walk";
import type { Located, Translation } from "./route-cache";
import type { HtaccessReader } from "./sections";
import { applyRewrite, type RewriteOutcome } from "./rewrite";
import { applyRewriteEnv, rewriteStatus, RewriteHooks } from "./rewrite-hooks";
import { buildCgiEnviron, CgiEnviron, NO_AUTH, type RouteEnviron } from "./environ";
import type { EnvironPairs } from "../app/environ-pairs";
import { planFits, type PlanKey, type RoutePlan } from "./route-plan";
import { applySetEnvIf, hasSetEnvIfExpr, setEnvIfExpr } from "./setenvif";
import { EARLY_WALK_PASSES, lateWalkPasses, mergeIfSections, withIfSections } from "./if-sections";
import { multiViews, typeMap } from "./negotiation-handler";
import { isTypeMapByType } from "./negotiate";
import { applyRequestHeaderRules, rulesOf } from "../http/header-rules";
import { resolveGroupName } from "./groups";
import { escapePathKeepQuery, matchRedirect } from "./redirect";
import { escapeUri } from "./uri-escape";
import type { HookRunner } from "../app/hooks";
import type { DigestState } from "../auth/digest";
import type { DispatchRoute } from "./dispatch-script";
import { AccessPhase } from "./access-phase";
import { Lookups } from "./lookups";
import { exprRequest, subrequestExpr } from "./expr-request";
import { locate, translateAliases, withSlash } from "./locate";
import { bad, type MapRequest, type MapResult, type Mapped, type WsgiTarget } from "./map-result";
import { LIMIT_INTERNAL_RECURSION, type LocatedPass, type RequestState } from "./request-state";

export type { MapRequest, MapResult, Mapped, Negotiated, WsgiTarget } from "./map-result";

export interface MapperOptions {
  readonly log: ErrorLog;
  readonly htaccess?: HtaccessReader;
  /** Where hook scripts run (the server's ProcessHost); by default in this thread. */
  readonly hooks?: HookRunner;
  /** mod_auth_digest's secret and clients (a Server keeps one across reloads); by default the mapper's own. */
  readonly digest?: DigestState;
}

export class Mapper {
  private readonly tables = new Map<HostConfig, HostTables>();
  /** Some CustomLog has an expr= condition: every result carries what it reads. */
  private readonly logExprs: boolean;
  private readonly proxyLists = new WeakMap<object, ProxyList>();
  private readonly access: AccessPhase;
  private readonly lookups: Lookups;
  private readonly rewrite: RewriteHooks;

  constructor(
    readonly config: ServerConfig,
    readonly engine: Engine,
    private readonly options: MapperOptions,
  ) {
    for (const host of [config.main, ...config.virtualHosts]) this.tables.set(host, new HostTables(config, host, engine));
    this.access = new AccessPhase(config, engine, { log: options.log, hooks: options.hooks, digest: options.digest, exprRequest: (s, l, u, q) => exprRequest(s, l, u, q, this.lookups) });
    this.lookups = new Lookups(options.log, options.htaccess ?? null, this.access, (state, uri, parentUri) => this.lookupTranslation(state, uri, parentUri));
    this.rewrite = new RewriteHooks(options.log, this.lookups);
    this.logExprs = [config.main, ...config.virtualHosts].some((h) => h.customLogs.some((l) => l.conditionExpr !== undefined));
  }

  /** SERVER_NAME/SERVER_PORT under the directory's UseCanonicalName (the server's before the walk). */
  private identify(state: RequestState, settings: DirSettings): void {
    const use = settings.useCanonicalName?.value ?? state.serverCanonical;
    state.canonical = use;
    state.serverName = identityName(use, state.configured, state.sentName, state.req.localAddress);
    state.serverPort = identityPort(use, state.configured, state.sentPort, state.scheme);
  }

  /**
   * What the server's own pages show for a request answered with `settings`: ServerAdmin and
   * the ServerSignature footer (ap_psignature with `<hr>`). Only error pages ask, so the host is
   * selected again here rather than carried in every result.
   */
  pageIdentity(req: MapRequest, settings: DirSettings | null): { serverAdmin: string; signature: string } {
    const rh = requestHost(headerValue(req.headers, "host"), "", req.scheme);
    const host = selectHost(this.config, rh?.serverName ?? "", req.localPort);
    const admin = serverAdmin(this.config, host);
    const mode = settings?.serverSignature?.value ?? host.dir.serverSignature?.value ?? this.config.main.dir.serverSignature?.value;
    if (mode === undefined || mode === "off") return { serverAdmin: admin, signature: "" };
    const use = settings?.useCanonicalName?.value ?? host.dir.useCanonicalName?.value ?? this.config.main.dir.useCanonicalName?.value;
    const configured = configuredName(this.config, host);
    const id = serverIdentity(use, configured, { name: rh?.serverName || undefined, port: rh?.sentPort }, httpScheme(configured, req.scheme), req.localAddress);
    return { serverAdmin: admin, signature: serverSignature(mode, "<hr>\n", serverBanner(this.config.serverTokens), id.serverName, id.serverPort, admin) };
  }

  /** TraceEnable is not Off for the server answering `req` (then static `Allow` lists TRACE). */
  traceEnabled(req: MapRequest): boolean {
    const host = requestHostConfig(this.config, req);
    return (host.traceEnable?.value ?? this.config.main.traceEnable?.value ?? "on") !== "off";
  }

  /** How long a hook script may take: Apache's Timeout (default 60 s). */
  hookTimeoutMs(): number {
    return this.access.hookTimeoutMs();
  }

  /** Regex rules the native engine hands to JavaScript, for the startup notice. */
  jsEvaluatedAliasRules(): string[] {
    const out: string[] = [];
    for (const t of this.tables.values()) {
      for (const i of t.aliasTable.jsEvaluatedRules) {
        const a = t.aliases[i];
        out.push(`${a.where.file}:${a.where.line}: ${a.kind} ${a.pattern}`);
      }
    }
    return out;
  }

  /**
   * Map a request. The result is synchronous except when authentication (Basic or Digest) has
   * to read a password file, a host name is looked up or a hook script runs: most requests cost
   * no promise and no microtask turn.
   */
  map(req: MapRequest): Mapped {
    const { rawPath, query } = splitTarget(req.target);
    if (!rawPath.startsWith("/")) {
      // Absolute-form targets are handled by the front end; `*` is only for OPTIONS.
      return req.method === "OPTIONS" && rawPath === "*" ? { kind: "server-options", settings: null } : bad(400, "request target is not a path");
    }
    const hostHeader = headerValue(req.headers, "host");
    const rh = requestHost(hostHeader, "", req.scheme);
    if (!rh) return bad(400, `invalid Host header '${hostHeader}'`);
    const host = selectHost(this.config, rh.serverName, req.localPort);
    const tables = this.tables.get(host)!;
    const slashes = host.allowEncodedSlashes?.value ?? this.config.main.allowEncodedSlashes?.value ?? "off";
    const keepSlashes = (host.mergeSlashes ?? this.config.main.mergeSlashes)?.value === false && rawPath.includes("//");
    const norm = this.engine.normalizePath(keepSlashes ? protectSlashes(rawPath) : rawPath, slashes);
    if (!norm.ok) return bad(norm.status, `cannot map ${rawPath}`);
    // normalizePath has merged `//` already (MergeSlashes On).
    const uri = keepSlashes ? norm.path.replace(SLASH_MARK, "") : norm.path;
    // The common case: the same path, Host and listener as an earlier request whose mapping
    // looked at nothing else (TRACE is answered before any plan could apply).
    const plan = tables.routes.plan(uri);
    if (plan !== undefined && req.method !== "TRACE" && planFits(plan, hostHeader, req.localAddress, req.localPort, req.scheme) && Date.now() - plan.at < STAT_TTL_MS) {
      return this.fromPlan(plan, req, query);
    }
    // Per request, without allocating: the host's parts were worked out when the tables were built.
    const configured = tables.configured;
    const sentName = rh.serverName || undefined;
    const sentPort = rh.sentPort;
    const serverCanonical = tables.useCanonicalName;
    const scheme = httpScheme(configured, req.scheme);

    const state: RequestState = {
      req,
      tables,
      serverName: identityName(serverCanonical, configured, sentName, req.localAddress),
      serverPort: identityPort(serverCanonical, configured, sentPort, scheme),
      sentName,
      sentPort,
      configured,
      scheme,
      serverCanonical,
      canonical: serverCanonical,
      requestUri: req.target,
      env: new Map(),
      redirected: false,
      rewriteEnded: false,
      redirectScriptUrl: null,
      authEnviron: NO_AUTH,
      sentUri: uri,
      hostHeader,
      plain: true,
      routeReused: false,
      // Set later; present from the start so the object keeps one shape.
      located: undefined,
      authInfo: undefined,
      user: undefined,
      lookupDepth: 0,
      subrequest: false,
    };
    let result = this.resolve(state, uri, query, 0);
    if ((req.body?.declaredLength ?? -1) > 0) {
      // Only a request that declares a body pays for this (and it needs no plan: plans are applications').
      const serverSettings = tables.sections.serverSettings;
      result = result instanceof Promise ? result.then((r) => overBodyLimit(r, req, serverSettings)) : overBodyLimit(result, req, serverSettings);
    }
    if (result instanceof Promise) return result.then((r) => this.withExprRequest(withRewriteHeaders(r, state), state, uri, query));
    return this.withExprRequest(state.cookies || state.vary || state.exprVary || state.negotiated || state.authInfo || state.user !== undefined ? withRewriteHeaders(result, state) : result, state, uri, query);
  }

  /** A result whose Header rules have `expr=` conditions carries the request for them to read. */
  private withExprRequest(r: MapResult, state: RequestState, uri: string, query: string | null): MapResult {
    if (!this.logExprs && !hasExprRule(r.settings?.headers)) return r;
    const pass = state.located;
    return { ...r, exprRequest: pass ? exprRequest(state, pass.loc, pass.uri, pass.query, this.lookups) : exprRequest(state, undefined, uri, query, this.lookups) };
  }

  /** An application request answered from a route plan: its environ is made when asked (CgiEnviron). */
  private fromPlan(plan: RoutePlan, req: MapRequest, query: string | null): WsgiTarget {
    return wsgiTarget(plan, new CgiEnviron(this.engine, plan.environ, req, query, plan.env));
  }

  /** One pass of request processing for `uri`; internal redirects recurse. */
  private resolve(state: RequestState, uri: string, query: string | null, depth: number): Mapped {
    if (depth > LIMIT_INTERNAL_RECURSION) {
      return bad(500, `request exceeded the limit of ${LIMIT_INTERNAL_RECURSION} internal redirects`);
    }
    const t = state.tables;
    // After an internal redirect (DirectoryIndex, MultiViews, per-directory rewrite) the
    // request carries what the first pass set: not a mapping of this path alone.
    if (depth > 0) state.plain = false;

    // translate_name: server-context mod_rewrite, then mod_alias and mod_wsgi, then the core.
    let forcedHandler: string | null = null;
    let forcedType: string | null = null;
    let translated: Translation | null = null;
    // walk_location_and_if before translate_name: only when some such section sets what translation reads.
    const early = t.sections.early ? this.earlySettings(state, uri, query) : null;
    if (t.serverRewrite && !state.rewriteEnded && serverRulesOn(t, early)) {
      const outcome = applyRewrite(t.serverRewrite, this.rewrite.context(state, uri, query, null, null));
      // Rules that read only the plan's key and left the query alone leave the mapping plannable
      // (the plan is kept under the path as sent, state.sentUri).
      if (!outcome.onlyPathAndHost) state.plain = false;
      applyRewriteEnv(state, outcome);
      forcedHandler = outcome.forcedHandler;
      forcedType = outcome.forcedType;
      if (outcome.end) state.rewriteEnded = true;
      switch (outcome.kind) {
        // Answered in the translate phase: the request's configuration is the server's (its Header rules, ErrorDocument).
        case "redirect":
          return { kind: "redirect", status: outcome.status, location: outcome.location, settings: t.sections.serverSettings };
        case "status":
          return rewriteStatus(state, outcome.status, `rewrite rule answered ${outcome.status}`, t.sections.serverSettings);
        case "internal-redirect":
          return bad(500, "unexpected internal redirect from server-context rewrite", t.sections.serverSettings);
        case "file":
          query = outcome.query;
          translated = { filename: outcome.filename, scriptAlias: null, contextPrefix: "", contextDocumentRoot: t.documentRoot, forcedHandler, forcedType };
          break;
        case "uri":
          // [PT] to an absolute URL not naming this server: ap_core_translate's "Invalid URI".
          if (!outcome.uri.startsWith("/")) return bad(400, `Invalid URI in request '${outcome.uri}'`, t.sections.serverSettings);
          query = outcome.query;
          uri = outcome.uri;
          break;
        case "none":
          query = outcome.query;
      }
    }
    // mod_alias's translate hook: a location-wide Redirect of those early sections first (the
    // URL as rewritten with [PT] is what it evaluates, with the sections of the URL as sent).
    const wideEarly = translated === null ? early?.locationRedirect?.value : undefined;
    if (wideEarly !== undefined) return this.locationRedirect(state, undefined, uri, query, wideEarly, early!);
    // (Redirect and RedirectMatch look at the URL-path only: no reason to clear `plain`.)
    if (!translated && t.redirects.length > 0) {
      // mod_alias runs its redirects before any alias (and mod_wsgi's aliases come after it).
      const hit = matchRedirect(t.redirects, uri, query, (p) => absoluteUrl(state, p));
      // No section applies yet: the server's own settings (ErrorDocument, Header) do, as
      // httpd's per-directory configuration is the server's at this point.
      if (hit) return redirectResult(hit, t.sections.serverSettings);
    }
    // httpd answers TRACE in map_to_storage: after translation, before sections and access.
    if (state.req.method === "TRACE" && depth === 0) {
      const trace = t.host.traceEnable?.value ?? this.config.main.traceEnable?.value ?? "on";
      // Refused before any handler could list methods: httpd sends an empty Allow.
      if (trace === "off") return { kind: "error", status: 405, headers: [["Allow", ""]], reason: "TRACE denied by server configuration", settings: null };
      return { kind: "trace", extended: trace === "extended", settings: null };
    }
    // translate + map_to_storage + the handler depend only on the URL-path (and the disk) when
    // no server rewrite intervened: reuse them while the stat results they rest on are fresh.
    const cacheable = translated === null && forcedHandler === null && forcedType === null;
    let loc = cacheable ? t.routes.get(uri) : undefined;
    state.routeReused = loc !== undefined;
    if (loc === undefined || Date.now() - loc.at >= STAT_TTL_MS) {
      const located = locate(t, uri, translated ?? translateAliases(t, uri, forcedHandler, forcedType), this.options.htaccess ?? null);
      if (!("translated" in located)) return located;
      loc = located;
      if (cacheable) t.routes.set(uri, loc);
    }
    // mod_setenvif (before access, so `Require env` sees its variables).
    const ifSections = loc.settings.ifSections;
    if (loc.settings.setEnvIf) {
      state.plain = false;
      const located = loc;
      // With <If> sections, the server's rules run first (post_read_request), so conditions see their variables.
      const rules = loc.settings.setEnvIf;
      applySetEnvIf(rules, state.req, uri, state.env, hasSetEnvIfExpr(rules) ? (expr) => setEnvIfExpr(expr, exprRequest(state, located, uri, query, this.lookups), this.options.log, state.req) : undefined, ifSections ? true : undefined);
    }
    // <If> sections: evaluated for this request and merged last (httpd's ap_if_walk).
    if (ifSections !== undefined) {
      state.plain = false;
      loc = withIfSections(loc, exprRequest(state, loc, uri, query, this.lookups), this.options.log, state.req, lateWalkPasses(t.sections.early));
      const located = loc;
      if (loc.settings.setEnvIf) applySetEnvIf(loc.settings.setEnvIf, state.req, uri, state.env, (expr) => setEnvIfExpr(expr, exprRequest(state, located, uri, query, this.lookups), this.options.log, state.req), false);
    }
    // What `Require expr` and hook scripts read: the request as located.
    state.located = { loc, uri, query };
    // Access: Require (host-based and Basic authentication).
    const denied = this.access.check(state, loc.settings, uri, loc.walk.filename);
    if (denied === null) return this.afterAccess(state, loc, uri, query, depth);
    const located = loc;
    if (!(denied instanceof Promise)) return withFile(denied, located.walk.filename);
    return denied.then((d) => (d ? withFile(d, located.walk.filename) : this.afterAccess(state, located, uri, query, depth)));
  }

  /** The rest of a pass once access is granted: MultiViews, fixups, mod_dir, the handler. */
  private afterAccess(state: RequestState, loc: Located, uri: string, query: string | null, depth: number): Mapped {
    const t = state.tables;
    const { translated, walk, isDir, settings } = loc;
    const options = loc.options;
    if ((settings.useCanonicalName?.value ?? state.serverCanonical) !== state.canonical) this.identify(state, settings);
    let handler = loc.handler;

    // MultiViews: a missing file may be negotiated from `name.*` in its directory.
    if (walk.stat === null && options.has("MultiViews")) {
      const chosen = multiViews(state, walk, settings, uri, query, this.options.log);
      if (chosen !== null) return chosen.kind === "variant" ? this.subrequest(state, chosen.url, query, depth) : chosen;
    }

    // fixups: per-directory mod_rewrite (may redirect internally), SetEnv, mod_dir.
    let staticType = translated.forcedType;
    if (settings.rewrite?.engine && settings.rewrite.rules.length > 0 && !state.rewriteEnded) {
      state.plain = false;
      const perDir = this.rewrite.perDirectory(state, settings, uri, query, walk);
      if (perDir.kind === "redirect-to") {
        // mod_dir's fixup runs after mod_rewrite's and still answers a directory asked for
        // without its slash, before the rewrite's internal redirect can happen.
        if (isDir && !uri.endsWith("/") && walk.pathInfo === "" && settings.directorySlash?.value !== false) return slashRedirect(state, uri, query, settings, walk.filename);
        return this.internalRedirect(state, perDir.url, uri, query, depth);
      }
      if (perDir.kind === "result") return perDir.result;
      // [H=...] and [T=...] in a directory context apply to this request as it stands.
      if (perDir.forcedHandler) handler = perDir.forcedHandler;
      if (perDir.forcedType) staticType = perDir.forcedType;
    }
    // mod_alias's fixup: a section's location-wide Redirect, then its URL-path redirects.
    const wide = settings.locationRedirect?.value;
    if (wide !== undefined) return this.locationRedirect(state, loc, uri, query, wide, settings);
    if (settings.redirects && settings.redirects.length > 0) {
      const hit = matchRedirect(settings.redirects, uri, query, (p) => absoluteUrl(state, p));
      if (hit) return redirectResult(hit, settings);
    }
    for (const [k, v] of loc.env) state.env.set(k, v);

    if (isDir && (handler === null || handler === "httpd/unix-directory")) {
      return this.directory(state, t, settings, uri, query, walk, staticType, depth);
    }

    if (handler === "wsgi-script" || (handler !== null && t.handlerScripts.has(handler) )) {
      return this.wsgi(state, loc, uri, query, handler);
    }
    const handlerScript = handler !== null ? settings.handlerScripts?.get(handler) : undefined;
    if (handlerScript) return this.wsgi(state, loc, uri, query, handler!);

    if (isDir) return bad(403, `directory ${walk.filename} with handler ${handler}`, settings);
    if (walk.stat !== null && (handler === "type-map" || (handler === null && isTypeMapByType(walk.filename, settings, staticType)))) {
      const chosen = typeMap(state, walk, settings, options, uri, query, this.options.log);
      return chosen.kind === "variant" ? this.internalRedirect(state, chosen.url, uri, query, depth) : chosen;
    }
    return this.defaultHandler(state, walk, settings, staticType);
  }

  /**
   * mod_alias's try_redirect and fixup_redir for `Redirect [status] URL` in a section: the URL
   * expression evaluated (its path escaped, query and fragment kept), made absolute, the
   * request's query added when it has none of its own.
   */
  private locationRedirect(state: RequestState, loc: Located | undefined, uri: string, query: string | null, wide: NonNullable<DirSettings["locationRedirect"]>["value"], settings: DirSettings): MapResult {
    let target = "";
    if (wide.url !== undefined) {
      try {
        target = escapePathKeepQuery(evaluateString(wide.url, exprRequest(state, loc, uri, query, this.lookups)));
      } catch (err) {
        if (!(err instanceof ExprEvalError)) throw err;
        logExprFailure(this.options.log, state.req, "alias", wide.url, err);
        return { kind: "error", status: 500, reason: `AH02826: Can't evaluate redirect expression: ${err.message}`, reasonModule: "alias", settings };
      }
    }
    const status = wide.status;
    if (status < 300 || status >= 400) return { kind: "error", status, settings };
    if (target.startsWith("/")) target = absoluteUrl(state, target);
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      return { kind: "error", status: 500, reason: `AH00676: cannot redirect '${uri}' to '${target}'; target is not a valid absoluteURI or abs_path`, reasonModule: "alias", settings };
    }
    if (query !== null && !target.includes("?")) target += "?" + query;
    return { kind: "redirect", status, location: target, settings };
  }

  /** RequestHeader's rules over the request's fields, `expr=` conditions reading the request as located. */
  private editedRequestHeaders(state: RequestState, rules: readonly HeaderDirective[], pass: LocatedPass | undefined): string[] {
    const req = state.req;
    return applyRequestHeaderRules(rules, req.headers, {
      env: state.env, requestHeaders: req.headers, startMicros: Date.now() * 1000,
      ...(hasExprRule(rules) && pass ? exprContext(exprRequest(state, pass.loc, pass.uri, pass.query, this.lookups), this.options.log, req) : {}),
    });
  }

  /**
   * core.c's default_handler. It discards the body first, whatever the method, so the body
   * limit applies before anything else. GET, HEAD and POST then need a regular file and no
   * path info (else 404); any other method is answered from the method alone, whether or not
   * anything exists at the path: OPTIONS 200, a known method 405, an unknown one 501
   * (serveFile answers those).
   */
  private defaultHandler(state: RequestState, walk: WalkResult, settings: DirSettings, staticType: string | null): MapResult {
    // A Content-Length over LimitRequestBody has become 413 already (overBodyLimit), whatever follows.
    // mod_headers' fixup has run: RequestHeader's edits are what the handler reads (Range,
    // conditionals) and what the access log shows (%{X}i).
    const requestRules = rulesOf(settings.headers, "RequestHeader");
    const edited = requestRules.length === 0 ? null : { requestHeaders: this.editedRequestHeaders(state, requestRules, state.located) };
    const method = state.req.method;
    if (method === "GET" || method === "HEAD" || method === "POST") {
      if (walk.stat === null || walk.stat.isDirectory()) return { kind: "error", status: 404, file: walk.filename, settings, ...edited };
      if (walk.pathInfo !== "" && settings.acceptPathInfo?.value !== "on") return { kind: "error", status: 404, file: walk.filename, settings, ...edited };
    }
    const forceType = settings.forceType?.value;
    if (staticType === null && forceType !== undefined && forceType !== "none") staticType = forceType;
    return { kind: "static", file: walk.filename, stat: walk.stat, forcedType: staticType, settings, env: state.env, negotiated: state.negotiated, ...edited };
  }

  /**
   * The per-directory configuration httpd's translate hooks read (mod_rewrite's RewriteEngine,
   * mod_alias's location-wide Redirect): the server's settings with the <Location> sections
   * matching the URL and the <If> sections at server level and in those (evaluated with no file
   * yet) merged over them. Only a configuration where one of them sets such a directive asks.
   */
  private earlySettings(state: RequestState, uri: string, query: string | null, subrequest = false): DirSettings {
    const settings = state.tables.sections.locationSettings(uri);
    if (settings.ifSections === undefined) return settings;
    state.plain = false;
    const ctx = exprRequest(state, undefined, uri, query, this.lookups);
    return mergeIfSections(settings, subrequest ? subrequestExpr(ctx) : ctx, this.options.log, state.req, EARLY_WALK_PASSES);
  }

  /**
   * translate_name for a -U lookup's subrequest: the server's rewrite rules as a subrequest runs
   * them (without [NS] and [R] rules, its variables and cookies its own, its own lookups only
   * of URL-paths other than `parentUri`, the request it is made for), then the location-wide
   * Redirect of the early sections and the server's Redirect lines, which answer with their
   * status before any access check, then the aliases.
   */
  private lookupTranslation(state: RequestState, uri: string, parentUri: string): { uri: string; translated: Translation } | number {
    const t = state.tables;
    const early = t.sections.early ? this.earlySettings(state, uri, null, true) : null;
    let query: string | null = null;
    let forcedHandler: string | null = null;
    let forcedType: string | null = null;
    if (t.serverRewrite && serverRulesOn(t, early)) {
      const outcome = this.subrequestServerRewrite(state, t.serverRewrite, uri, parentUri);
      forcedHandler = outcome.forcedHandler;
      forcedType = outcome.forcedType;
      switch (outcome.kind) {
        case "redirect":
        case "status":
          return outcome.status;
        case "internal-redirect":
          return 500;
        case "file":
          return { uri, translated: { filename: outcome.filename, scriptAlias: null, contextPrefix: "", contextDocumentRoot: t.documentRoot, forcedHandler, forcedType } };
        case "uri":
          if (!outcome.uri.startsWith("/")) return 400;
          uri = outcome.uri;
          query = outcome.query;
          break;
        case "none":
          query = outcome.query;
      }
    }
    const wide = early?.locationRedirect?.value;
    if (wide !== undefined) return wide.status;
    const hit = t.redirects.length > 0 ? matchRedirect(t.redirects, uri, query, (p) => absoluteUrl(state, p)) : null;
    if (hit) return hit.status;
    return { uri, translated: translateAliases(t, uri, forcedHandler, forcedType) };
  }

  /**
   * The server's rewrite rules as a subrequest for `uri` runs them: [NS] and [R] rules are
   * skipped, and END is the main request's (the subrequest's rules run whatever it ended);
   * lookups inside are of URL-paths other than `mainUri`, the request it is made for.
   */
  private subrequestServerRewrite(state: RequestState, rules: NonNullable<HostTables["serverRewrite"]>, uri: string, mainUri: string): RewriteOutcome {
    const { subrequest, rewriteEnded } = state;
    state.subrequest = true;
    state.rewriteEnded = false;
    try {
      return applyRewrite(rules, this.rewrite.context(state, uri, null, null, null, mainUri));
    } finally {
      state.subrequest = subrequest;
      state.rewriteEnded = rewriteEnded;
    }
  }

  /** PATH_TRANSLATED: path_info mapped as a URL (Apache runs a subrequest for it). */
  private pathTranslated(state: RequestState, pathInfo: string, mainUri: string): string {
    const t = state.tables;
    if (t.serverRewrite && serverRulesOn(t, t.sections.early ? this.earlySettings(state, pathInfo, null, true) : null)) {
      const outcome = this.subrequestServerRewrite(state, t.serverRewrite, pathInfo, mainUri);
      // A plan keeps this PATH_TRANSLATED: only when the rules read nothing beyond its key.
      if (!outcome.onlyPathAndHost) state.plain = false;
      if (outcome.kind === "file") return outcome.filename;
      if (outcome.kind === "uri") pathInfo = outcome.uri;
    }
    return translateAliases(t, pathInfo, null, null).filename;
  }

  /**
   * The subrequest mod_dir (DirectoryIndex) and mod_negotiation (MultiViews) look the new URL
   * up with, then serve in place of the request: server rewrite rules see the main request's
   * SCRIPT_URL there, and keep it.
   */
  private subrequest(state: RequestState, uri: string, query: string | null, depth: number): Mapped {
    const scriptUrl = state.env.get("SCRIPT_URL");
    if (scriptUrl !== undefined) state.redirectScriptUrl = scriptUrl;
    state.subrequest = true;
    return this.resolve(state, uri, query, depth + 1);
  }

  /** An internal redirect: the old request's variables become REDIRECT_*; processing starts again. */
  private internalRedirect(state: RequestState, url: string, oldUri: string, oldQuery: string | null, depth: number): Mapped {
    const { rawPath, query } = splitTarget(url);
    const norm = this.engine.normalizePath(rawPath, "off");
    if (!norm.ok) return bad(norm.status, `cannot map internal redirect to ${url}`);
    const env = new Map<string, string>();
    for (const [k, v] of state.env) env.set("REDIRECT_" + k, v);
    if (oldQuery !== null) env.set("REDIRECT_QUERY_STRING", oldQuery);
    env.set("REDIRECT_URL", oldUri);
    env.set("REDIRECT_STATUS", "200");
    state.redirectScriptUrl = state.env.get("SCRIPT_URL") ?? null;
    state.env = env;
    if (state.vary) state.vary = [];
    state.authInfo = undefined;
    state.redirected = true;
    state.subrequest = false;
    // The new request's translate phase sees the server's UseCanonicalName again.
    if (state.canonical !== state.serverCanonical) this.identify(state, {});
    return this.resolve(state, norm.path, query, depth + 1);
  }

  /**
   * mod_dir: DirectorySlash, DirectoryIndex (for every method), then mod_autoindex or 403 for
   * GET and HEAD; mod_autoindex declines other methods, which the default handler answers.
   */
  private directory(state: RequestState, t: HostTables, settings: DirSettings, uri: string, query: string | null, walk: WalkResult, staticType: string | null, depth: number): Mapped {
    const dirPath = walk.filename;
    const listable = state.req.method === "GET" || state.req.method === "HEAD";
    if (!uri.endsWith("/")) {
      // DirectorySlash Off: mod_dir declines; mod_autoindex lists the directory or refuses.
      if (settings.directorySlash?.value === false) {
        if (!listable) return this.defaultHandler(state, walk, settings, staticType);
        if (effectiveOptions(settings).has("Indexes")) return { kind: "listing", dir: dirPath, uri, settings };
        return bad(403, `Cannot serve directory ${withSlash(dirPath)}: server-generated directory index forbidden by Options directive`, settings);
      }
      return slashRedirect(state, uri, query, settings, dirPath);
    }
    const indexes = settings.directoryIndex?.value ?? ["index.html"];
    for (const text of indexes) {
      if (text === "disabled") break;
      // Joined to the byte strings uri and dirPath.
      const name = toByteString(text);
      const candidate = name.startsWith("/") ? name : uri + name;
      // A subrequest in Apache; a cheap existence check of the mapped file is what decides.
      const mapped = name.startsWith("/") ? translateAliases(t, candidate, null, null).filename : path.join(dirPath, name);
      if (fs.existsSync(fsPath(mapped))) return this.subrequest(state, candidate, query, depth);
    }
    if (!listable) return this.defaultHandler(state, walk, settings, staticType);
    if (effectiveOptions(settings).has("Indexes")) return { kind: "listing", dir: dirPath, uri, settings };
    return withFile(bad(403, `Cannot serve directory ${withSlash(dirPath)}: No matching DirectoryIndex (${toByteString(indexes.join(","))}) found, and server-generated directory index forbidden by Options directive`, settings), withSlash(dirPath));
  }

  /** mod_wsgi's handler: its checks, the groups, and the environ. */
  private wsgi(
    state: RequestState,
    loc: Located,
    uri: string,
    query: string | null,
    handler: string,
  ): MapResult {
    const { settings, translated, walk } = loc;
    const execCgi = loc.options.has("ExecCGI");
    const handlerScript = handler === "wsgi-script" ? undefined : (settings.handlerScripts?.get(handler) ?? state.tables.handlerScripts.get(handler));
    // Script paths are byte strings, as the walked filename is (engine/byte-string.ts).
    const handlerPath = handlerScript ? toByteString(handlerScript.script) : "";
    if (!handlerScript) {
      if (!execCgi && !translated.scriptAlias) {
        return bad(403, `Options ExecCGI is off in this directory: ${walk.filename}`, settings);
      }
      if (walk.stat === null) return { kind: "error", status: 404, reason: `Target WSGI script not found or unable to stat: ${walk.filename}`, reasonModule: "wsgi", file: walk.filename, settings };
      if (walk.stat.isDirectory()) return bad(403, `Attempt to invoke directory as WSGI application: ${walk.filename}`, settings);
    }
    if (walk.pathInfo !== "" && settings.acceptPathInfo?.value === "off") return { kind: "error", status: 404, file: walk.filename, settings };

    const opts = translated.scriptAlias?.options ?? handlerScript?.options ?? {};
    const req = state.req;
    const t = state.tables;
    // httpd's walk merges slashes in the file name (they survive there under MergeSlashes Off).
    const pathInfo = noTwoSlashes(walk.pathInfo);
    const scriptName = noTwoSlashes(pathInfo === "" ? uri : uri.slice(0, findPathInfo(uri, pathInfo)));
    const env = state.env;
    const groupContext = { serverName: state.tables.configuredName, serverPort: state.serverPort, scriptName, env };
    // WSGIRestrictProcess is the handler's check (Site), after any WSGIDispatchScript.
    const processGroup = resolveGroupName(opts.processGroup ?? settings.processGroup?.value ?? "", groupContext, "");
    const applicationGroup = resolveGroupName(opts.applicationGroup ?? settings.applicationGroup?.value ?? "%{RESOURCE}", groupContext, "%{RESOURCE}");
    const callable = handlerScript ? "handle_request" : (opts.callableObject ?? settings.callableObject?.value ?? "application");
    const passAuthorization = opts.passAuthorization ?? settings.passAuthorization?.value ?? false;

    let proxies: ProxyList | null = null;
    const trusted = settings.trustedProxies?.value;
    if (trusted) proxies = this.proxyList(trusted);
    // Trusted-proxy headers are applied per request, by buildCgiEnviron.
    const trustedProxyHeaders = settings.trustedProxyHeaders?.value ?? null;

    // mod_headers' RequestHeader edits what the application sees.
    const requestRules = rulesOf(settings.headers, "RequestHeader");
    if (requestRules.length > 0) state.plain = false;
    const headers = requestRules.length === 0 ? req.headers : this.editedRequestHeaders(state, requestRules, { loc, uri, query });
    const route: RouteEnviron = {
      scriptName,
      pathInfo,
      // With server rewrite rules PATH_TRANSLATED may depend on the request: computed each time then.
      pathTranslated: pathInfo === "" ? null : state.tables.serverRewrite ? this.pathTranslated(state, pathInfo, uri) : (loc.pathTranslated ??= this.pathTranslated(state, pathInfo, uri)),
      scriptFilename: walk.filename,
      documentRoot: state.tables.documentRoot,
      contextPrefix: translated.contextPrefix,
      contextDocumentRoot: translated.contextDocumentRoot,
      // The environ's REQUEST_SCHEME is the request's scheme as httpd sees it (ap_http_scheme).
      scheme: state.scheme,
      serverName: state.serverName,
      serverPort: state.serverPort,
      serverAdmin: t.serverAdmin,
      serverSoftware: t.serverBanner,
      serverSignature: t.environSignature(settings.serverSignature?.value, state.serverName, state.serverPort),
      passAuthorization,
      trustedProxyHeaders,
      trustedProxies: proxies,
      handler,
      handlerScript: handlerPath,
      callable,
      processGroup,
      applicationGroup,
    };
    const environ = buildCgiEnviron(this.engine, route, { req, headers, requestUri: state.requestUri, query, env: state.env, authEnviron: state.authEnviron });
    const target: Omit<RoutePlan, keyof PlanKey | "at"> = {
      environ: route,
      env: state.env,
      script: handlerScript ? handlerPath : walk.filename,
      callable,
      processGroup,
      applicationGroup,
      urlScheme: req.scheme,
      bodyLimit: settings.limitRequestBody?.value ?? DEFAULT_LIMIT_REQUEST_BODY,
      acceptChunked: settings.chunkedRequest?.value ?? false,
      scriptMtimeMs: handlerScript ? undefined : walk.stat?.mtimeMs,
      settings,
    };
    const dispatchScript = settings.wsgiDispatchScript?.value;
    if (dispatchScript !== undefined) {
      // WSGIDispatchScript: the handler runs its functions for every request (no plan).
      const dispatch: DispatchRoute = { script: dispatchScript, configuredName: t.configuredName, serverPort: state.serverPort, sentName: state.sentName, scriptName, env };
      return { ...wsgiTarget(target, environ), dispatch };
    }
    // A plan carries no request for Header or CustomLog expr= conditions to read.
    if (state.plain && state.routeReused && !this.logExprs && !hasExprRule(settings.headers)) {
      t.routes.setPlan(state.sentUri, { hostHeader: state.hostHeader, localAddress: req.localAddress, localPort: req.localPort, scheme: req.scheme, at: loc.at, ...target });
    }
    const result = wsgiTarget(target, environ);
    return headers === req.headers ? result : { ...result, requestHeaders: headers };
  }

  private proxyList(entries: readonly string[]): ProxyList {
    let list = this.proxyLists.get(entries);
    if (!list) {
      list = this.engine.compileProxyList(entries);
      this.proxyLists.set(entries, list);
    }
    return list;
  }
}

/** Merged Header rule lists with an `expr=` condition or value (decided once per list, as hasSetEnvIfExpr). */
const exprHeaderLists = new WeakMap<readonly HeaderDirective[], boolean>();
function hasExprRule(rules: readonly HeaderDirective[] | undefined): boolean {
  if (rules === undefined) return false;
  let has = exprHeaderLists.get(rules);
  if (has === undefined) {
    has = rules.some((r) => r.expr !== undefined || r.valueExpr !== undefined);
    exprHeaderLists.set(rules, has);
  }
  return has;
}

/** ap_construct_url: scheme, the request's server name, the port when not the default. */
function absoluteUrl(state: RequestState, localPath: string): string {
  const port = state.serverPort === (state.scheme === "https" ? "443" : "80") ? "" : `:${state.serverPort}`;
  return `${state.scheme}://${state.serverName}${port}${localPath}`;
}

/**
 * MergeSlashes Off: the engine merges runs of `/`, so every slash after the first of a run is
 * followed by a mark it keeps as a segment of its own (`.`/`..` then count the empty segments
 * as httpd's ap_normalize_path does) and the mark is removed afterwards. U+E000 cannot come
 * off the wire: request targets are byte strings.
 */
const SLASH_MARK = /\uE000/g;
function protectSlashes(rawPath: string): string {
  return rawPath.replace(/\/(?=\/)/g, "/\uE000");
}

function redirectResult(hit: { status: number; location: string | null }, settings: DirSettings | null): MapResult {
  if (hit.location === null) return { kind: "error", status: hit.status, settings };
  return { kind: "redirect", status: hit.status, location: hit.location, settings };
}

/** A refusal of a mapped request, with the path it was mapped to (the access log's %f). */
function withFile(result: MapResult, file: string): MapResult {
  return result.kind === "error" && result.file === undefined ? { ...result, file } : result;
}

/** mod_dir's DirectorySlash redirect: the same URL with a `/` added; `dirPath` is the access log's %f. */
function slashRedirect(state: RequestState, uri: string, query: string | null, settings: DirSettings, dirPath: string): MapResult {
  const location = absoluteUrl(state, `${escapeUri(uri)}/${query !== null ? "?" + query : ""}`);
  return { kind: "redirect", status: 301, location, settings, file: dirPath };
}

/** Whether the server-context rewrite rules run: the server's RewriteEngine, or the early sections' when there are some. */
function serverRulesOn(t: HostTables, early: DirSettings | null): boolean {
  return early === null ? t.serverRewriteOn : early.rewrite?.engine === true;
}

/** An application request's map result; one construction, so every result has one shape. */
function wsgiTarget(p: Omit<RoutePlan, keyof PlanKey | "at">, environ: EnvironPairs): WsgiTarget {
  return {
    kind: "wsgi",
    env: p.env,
    script: p.script,
    callable: p.callable,
    processGroup: p.processGroup,
    applicationGroup: p.applicationGroup,
    environ,
    urlScheme: p.urlScheme,
    bodyLimit: p.bodyLimit,
    acceptChunked: p.acceptChunked,
    scriptMtimeMs: p.scriptMtimeMs,
    settings: p.settings,
  };
}

/**
 * LimitRequestBody against a declared Content-Length, for every answer but an application's
 * (the application path refuses with the engine's verdict, chunked bodies included). httpd
 * 2.4.71 discards the body before sending any other response (a 403, a 401, mod_dir's 301, a
 * listing, a static file, a 404), and a Content-Length over the limit of the configuration
 * that answer was made under turns it into 413 there, after the refusal itself was logged.
 * Answers decided before the directory walk (server-context Redirect or RewriteRule) go by the
 * server's limit. A chunked body is not read to find out (httpd reads it while discarding and
 * answers 413 too): its answer stands.
 */
function overBodyLimit(result: MapResult, req: MapRequest, serverSettings: DirSettings): MapResult {
  if (result.kind === "wsgi" || result.kind === "trace" || (result.kind === "error" && result.status === 413)) return result;
  const declared = req.body!.declaredLength;
  const settings = result.settings ?? serverSettings;
  const limit = settings.limitRequestBody?.value ?? DEFAULT_LIMIT_REQUEST_BODY;
  if (limit <= 0 || declared <= limit) return result;
  // httpd logs the refusal the 413 replaces (AH01630 and the like); its own line is info-level.
  const logged = result.kind === "error" && result.reason !== undefined
    ? { reason: result.reason, ...(result.reasonModule ? { reasonModule: result.reasonModule } : {}) }
    : { reason: `Requested content-length of ${declared} is larger than the configured limit of ${limit}` };
  return { kind: "error", status: 413, headers: refusalHeaders(declared, false), ...logged, settings };
}

/**
 * Add what mod_rewrite put in the response headers (Set-Cookie always, Vary unless the answer is
 * the server's own error or redirect) and mod_auth_digest's Authentication-Info (as Vary: it is
 * in r->headers_out, which the server's own error pages drop). An application MultiViews chose
 * gets mod_negotiation's headers (Content-Location, Vary, TCN: err_headers_out in httpd) as a
 * static variant does.
 */
function withRewriteHeaders(r0: MapResult, state: RequestState): MapResult {
  const { cookies, exprVary, authInfo } = state;
  let vary = state.vary;
  if (exprVary) for (const h of exprVary) if (!vary?.some((v) => v.toLowerCase() === h.toLowerCase())) vary = [...(vary ?? []), h];
  let r = state.user !== undefined && r0.user === undefined ? { ...r0, user: state.user } : r0;
  const headers: HeaderPair[] = r.kind === "wsgi" && state.negotiated ? [...state.negotiated.headers] : [];
  // A type map's variant that fails (a missing file): its error keeps the negotiation headers.
  if (r.kind === "error" && state.negotiated) r = { ...r, headers: [...state.negotiated.headers, ...(r.headers ?? [])] };
  if (cookies) for (const c of cookies.values()) headers.push(["Set-Cookie", c]);
  if (vary && vary.length > 0 && r.kind !== "error" && r.kind !== "redirect") headers.push(["Vary", vary.join(",")]);
  if (authInfo !== undefined && r.kind !== "error" && r.kind !== "redirect") headers.push(["Authentication-Info", authInfo]);
  return headers.length === 0 ? r : { ...r, responseHeaders: [...(r.responseHeaders ?? []), ...headers] };
}
