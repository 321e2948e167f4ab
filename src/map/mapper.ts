/**
 * The map phase: Apache's request processing up to the handler, in Apache's order.
 *
 *   parse target -> decode/normalise -> virtual host
 *   -> translate (server mod_rewrite, Alias/AliasMatch, WSGIScriptAlias*, DocumentRoot)
 *   -> directory walk (PATH_INFO) -> sections (+ .htaccess) -> access (Allow/Deny, Require, Basic auth)
 *   -> handler (SetHandler/AddHandler, H=) -> MultiViews -> per-dir mod_rewrite -> mod_dir
 *   -> the handler's own checks -> a MapResult the site serves.
 *
 * Internal redirects (DirectoryIndex, MultiViews, per-directory rewrites) loop back to
 * translate with a new URL-path, at most LIMIT_INTERNAL_RECURSION times, as Apache does.
 */
import { headerValue } from "../static/serve-file";
import { refusalHeaders } from "../http/request-checks";
import * as path from "node:path";
import * as fs from "node:fs";
import type { DirSettings, ServerConfig, HostConfig, AuthzContainer, AuthzItem, HeaderDirective, IfSection, SetEnvIfRule } from "../config/model";
import { DEFAULT_LIMIT_REQUEST_BODY, effectiveOptions, mergeDirSettings, resolveEnv } from "../config/model";
import { evaluateExpr, evaluateExprMatch, evaluateString, ExprEvalError, type Expr, type ExprRequest } from "../config/expr";
import { exprContext, logExprFailure, timeVariable } from "./expr-context";
import type { Engine, ProxyList } from "../engine/types";
import { fsPath, textOf, toByteString } from "../engine/byte-string";
import type { ErrorLog } from "../log/error-log";
import type { HeaderPair, IncomingRequest, RequestBody } from "../http/types";
import { splitTarget } from "./request-target";
import { namesThisServer, requestHost, selectHost, configuredName, httpScheme, identityName, identityPort, serverIdentity, serverAdmin, serverBanner, serverSignature, type ConfiguredName } from "./host";
import { HostTables } from "./host-tables";
import { walkPath, findPathInfo, noTwoSlashes, STAT_TTL_MS, type WalkResult } from "./walk";
import type { Located, Translation } from "./route-cache";
import type { HtaccessReader } from "./sections";
import { applyRewrite, type RewriteContext, type RewriteOutcome } from "./rewrite";
import { rewriteCookie } from "./rewrite-cookie";
import { compileRequire, evaluateRequire, isRequestIndependent, authorize, type Requirement } from "../auth";
import { buildCgiEnviron, CgiEnviron, NO_AUTH, type RouteEnviron } from "./environ";
import type { EnvironPairs } from "../app/environ-pairs";
import { lookupAccessStatus } from "../auth/lookup-auth";
import { accessAllowed, accessNeedsHostName, accessRequestIndependent, doubleReverseName, satisfyFor, type AccessCompat } from "../auth/access-compat";
import { requestLogPrefix } from "../log/request-id";
import { planFits, type PlanKey, type RoutePlan } from "./route-plan";
import { applySetEnvIf } from "./setenvif";
import { forbiddenSymlink } from "./symlinks";
import { applyRequestHeaderRules, rulesOf } from "../http/header-rules";
import { resolveGroupName } from "./groups";
import { escapePathKeepQuery, matchRedirect } from "./redirect";
import { mergedHeaderValue } from "../http/header-values";
import { escapeUri } from "./uri-escape";
import { httpDate } from "../static/conditional";
import { negotiate, negotiateTypeMap, type Negotiation, type NegotiationRequest } from "./negotiate";
import { InThreadHookRunner, type HookRunner } from "../app/hooks";
import type { HookContext } from "../auth/wsgi-hook-environ";
import { accessDeniedLine, someAuthRequired, wsgiAllowAccess } from "../auth/wsgi-access-script";
import { WsgiGroupProvider, wsgiCheckPassword, wsgiRealmHash } from "../auth/wsgi-auth-script";
import { DigestState } from "../auth/digest";
import type { DispatchRoute } from "./dispatch-script";

/** Apache's LimitInternalRecursion default. */
const LIMIT_INTERNAL_RECURSION = 10;

/**
 * What the map phase needs from a request (copied off the wire by the front end): everything
 * but the body stream, whose announced size is enough (static files check LimitRequestBody).
 */
export type MapRequest = Omit<IncomingRequest, "body"> & {
  readonly body?: Pick<RequestBody, "declaredLength" | "chunked">;
};

/** A request for an application, ready for an ApplicationHost. */
export interface WsgiTarget {
  readonly kind: "wsgi";
  readonly script: string;
  readonly callable: string;
  readonly processGroup: string;
  readonly applicationGroup: string;
  readonly environ: EnvironPairs;
  readonly urlScheme: "http" | "https";
  readonly bodyLimit: number;
  readonly acceptChunked: boolean;
  readonly scriptMtimeMs: number | undefined;
  readonly settings: DirSettings;
  /** The request's variables (SetEnv, SetEnvIf, rewrite E=), for Header rules. */
  readonly env: ReadonlyMap<string, string>;
  /** WSGIDispatchScript applies: the handler runs it before choosing the group (./dispatch-script.ts). */
  readonly dispatch?: DispatchRoute;
}

/**
 * Headers the map phase adds to the response (mod_rewrite's Set-Cookie, sent on every response
 * as httpd's err_headers_out are, and Vary, on the successful ones as its headers_out are).
 */
interface AddsHeaders {
  readonly responseHeaders?: readonly HeaderPair[];
  /** The user authentication attributed the request to (httpd's r->user, set once the credentials were read, even when refused): the access log's %u. */
  readonly user?: string;
  /** The request's fields as RequestHeader left them, when it edited them (flat, names lower-case): the access log's %{X}i. */
  readonly requestHeaders?: readonly string[];
  /** What `Header ... expr=` conditions and CustomLog's expr= read of the request, when there are some. */
  readonly exprRequest?: ExprRequest;
}

export type MapResult = AddsHeaders & (
  | WsgiTarget
  | {
      readonly kind: "static";
      readonly file: string;
      /** Null for a method answered without the file (OPTIONS, 405, 501): it need not exist. */
      readonly stat: fs.Stats | null;
      readonly forcedType: string | null;
      readonly settings: DirSettings;
      /** The request's variables (SetEnv, SetEnvIf, rewrite E=), for Header rules and the access log. */
      readonly env: ReadonlyMap<string, string>;
      /** Set when MultiViews chose this file. */
      readonly negotiated?: Negotiated | undefined;
    }
  | { readonly kind: "listing"; readonly dir: string; readonly uri: string; readonly settings: DirSettings }
  /** A type map's inline `Body:` variant, chosen by negotiation (mod_negotiation's handler sends it). */
  | {
      readonly kind: "inline";
      readonly file: string;
      readonly body: Buffer;
      /** Content-Type, Content-Language, Content-Encoding as the map gives them. */
      readonly entity: readonly HeaderPair[];
      /** The negotiation's Vary (and Alternates), on every answer. */
      readonly headers: readonly HeaderPair[];
      readonly settings: DirSettings;
      readonly env: ReadonlyMap<string, string>;
    }
  | { readonly kind: "redirect"; readonly status: number; readonly location: string; readonly settings: DirSettings | null; readonly file?: string }
  /** TraceEnable: echo the request (extended: with its body). */
  | { readonly kind: "trace"; readonly extended: boolean; readonly settings: null }
  /** `OPTIONS *`: a question about the server itself, not any resource. */
  | { readonly kind: "server-options"; readonly settings: null }
  | {
      readonly kind: "error";
      readonly status: number;
      readonly headers?: readonly HeaderPair[];
      /** Why, for the error log (omitted for ordinary 404s, which httpd logs only at info). */
      readonly reason?: string;
      /** The module the log line names (default core), as httpd's line would. */
      readonly reasonModule?: string;
      /** 406 and 300: mod_negotiation's list of the variants, shown on the error page. */
      readonly variantList?: string;
      /** The path the URL was mapped to (r->filename, the access log's %f), when mapped. */
      readonly file?: string;
      readonly settings: DirSettings | null;
    });

/** What MultiViews (or a type map) adds to the chosen variant's responses. */
export interface Negotiated {
  /** Content-Location, Vary, TCN: before the file's own headers, on error responses too. */
  readonly headers: readonly HeaderPair[];
  /** The variants' directory, whose mtime is the variant list validator in the ETag. */
  readonly dirStat: fs.BigIntStats;
  /** A type map chose the variant by an internal redirect (not MultiViews' fast redirect): the URL stays the map's. */
  readonly typeMap?: true;
}

/** A map result, or its promise when the map phase had to wait (Basic authentication). */
export type Mapped = MapResult | Promise<MapResult>;

/** The last pass's located request, its URL-path and query: what `Require expr` and `Header expr=` read. */
interface LocatedPass {
  readonly loc: Located;
  readonly uri: string;
  readonly query: string | null;
}

/** Request state that survives internal redirects. */
interface RequestState {
  readonly req: MapRequest;
  readonly tables: HostTables;
  /** This pass is mod_dir's or mod_negotiation's subrequest, whose answer becomes the request's (a fast redirect). */
  subrequest?: boolean;
  /** SERVER_NAME/SERVER_PORT: the server's UseCanonicalName until the walk, then the directory's. */
  serverName: string;
  serverPort: string;
  /** What the Host header named, and ServerName, for UseCanonicalName. */
  readonly sentName: string | undefined;
  readonly sentPort: string | undefined;
  readonly configured: ConfiguredName;
  /** ap_http_scheme: the connection's, or https when ServerName names it (REQUEST_SCHEME, redirects). */
  readonly scheme: "http" | "https";
  /** UseCanonicalName of the server, and the one serverName/serverPort follow now. */
  readonly serverCanonical: "on" | "off" | "dns" | undefined;
  canonical: "on" | "off" | "dns" | undefined;
  /** REQUEST_URI: the target as sent. */
  readonly requestUri: string;
  /** Environment variables (SetEnv, rewrite E=, REDIRECT_*), in order of setting. */
  env: Map<string, string>;
  /** After an internal redirect: the variables of the redirected-from request. */
  redirected: boolean;
  rewriteEnded: boolean;
  redirectScriptUrl: string | null;
  authEnviron: Readonly<Record<string, string>>;
  /** The Host header as sent, part of a route plan's key. */
  readonly hostHeader: string | undefined;
  /**
   * Nothing of the request but its path, Host header and listener has been consulted so far:
   * an application request mapped so can be answered from a route plan next time.
   */
  plain: boolean;
  /**
   * The route-cache entry was there already: the path has been asked for before. A plan is
   * made only then, so traffic that never repeats a path allocates none.
   */
  routeReused: boolean;
  /** MultiViews chose the file being mapped: the headers and validator it adds. */
  negotiated?: Negotiated;
  /** The client's double-reverse name once a host-name rule has looked it up (null: none). */
  hostName?: string | null;
  /** RewriteRule [CO=]: Set-Cookie values by cookie name (the first setting of a name wins, as in httpd). */
  cookies?: Map<string, string>;
  /** Request headers rewrite conditions looked at (Vary); an internal redirect starts afresh. */
  vary?: string[];
  /** Request headers ap_expr expressions read (Vary): ap_expr puts them in the response's headers at once, which an internal redirect keeps. */
  exprVary?: string[];
  /** The last pass as located (for `Require expr` and `Header expr=`). */
  located: LocatedPass | undefined;
  /** How many RewriteCond/ap_expr lookups are running inside one another now. */
  lookupDepth: number;
  /** Digest authentication succeeded: mod_auth_digest's Authentication-Info (an internal redirect drops it, as httpd's new request has none). */
  authInfo: string | undefined;
  /** r->user: set by authentication once it has read the credentials. */
  user: string | undefined;
}

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
  private readonly requirements = new WeakMap<AuthzContainer, Requirement>();
  /** Some CustomLog has an expr= condition: every result carries what it reads. */
  private readonly logExprs: boolean;
  /** Requirements with a `Require expr` line: only these get an expression evaluator. */
  private readonly exprRequirements = new WeakSet<Requirement>();
  private readonly proxyLists = new WeakMap<object, ProxyList>();
  private readonly hooks: HookRunner;
  private readonly digest: DigestState;

  constructor(
    readonly config: ServerConfig,
    readonly engine: Engine,
    private readonly options: MapperOptions,
  ) {
    for (const host of [config.main, ...config.virtualHosts]) this.tables.set(host, new HostTables(config, host, engine));
    this.hooks = options.hooks ?? new InThreadHookRunner(options.log);
    this.logExprs = [config.main, ...config.virtualHosts].some((h) => h.customLogs.some((l) => l.conditionExpr !== undefined));
    this.digest = options.digest ?? new DigestState(config.authDigestShmemSize?.value);
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
    const rh = requestHost(headerValue(req.headers, "host"), "", req.scheme);
    const host = selectHost(this.config, rh?.serverName ?? "", req.localPort);
    return (host.traceEnable?.value ?? this.config.main.traceEnable?.value ?? "on") !== "off";
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
    const loc = tables.routes.get(uri);
    const plan = loc?.plan;
    if (plan !== undefined && req.method !== "TRACE" && planFits(plan, hostHeader, req.localAddress, req.localPort, req.scheme) && Date.now() - loc!.at < STAT_TTL_MS) {
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
      hostHeader,
      plain: true,
      routeReused: false,
      // Set later; present from the start so the object keeps one shape.
      located: undefined,
      authInfo: undefined,
      user: undefined,
      lookupDepth: 0,
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
    return { ...r, exprRequest: pass ? this.exprRequest(state, pass.loc, pass.uri, pass.query) : this.exprRequest(state, undefined, uri, query) };
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
    if (t.serverRewrite && !state.rewriteEnded) {
      state.plain = false;
      const outcome = applyRewrite(t.serverRewrite, this.rewriteContext(state, uri, query, null, null));
      this.applyRewriteEnv(state, outcome);
      forcedHandler = outcome.forcedHandler;
      forcedType = outcome.forcedType;
      if (outcome.end) state.rewriteEnded = true;
      switch (outcome.kind) {
        case "redirect":
          return { kind: "redirect", status: outcome.status, location: outcome.location, settings: null };
        case "status":
          return this.rewriteStatus(state, outcome.status, `rewrite rule answered ${outcome.status}`, null);
        case "internal-redirect":
          return bad(500, "unexpected internal redirect from server-context rewrite");
        case "file":
          query = outcome.query;
          translated = { filename: outcome.filename, scriptAlias: null, contextPrefix: "", contextDocumentRoot: t.documentRoot, forcedHandler, forcedType };
          break;
        case "uri":
          // [PT] to an absolute URL not naming this server: ap_core_translate's "Invalid URI".
          if (!outcome.uri.startsWith("/")) return bad(400, `Invalid URI in request '${outcome.uri}'`);
          query = outcome.query;
          uri = outcome.uri;
          break;
        case "none":
          query = outcome.query;
      }
    }
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
      const located = this.locate(t, uri, translated ?? this.translateAliases(t, uri, forcedHandler, forcedType));
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
      applySetEnvIf(rules, state.req, uri, state.env, hasSetEnvIfExpr(rules) ? (expr) => this.setEnvIfExpr(state, located, uri, query, expr) : undefined, ifSections ? true : undefined);
    }
    // <If> sections: evaluated for this request and merged last (httpd's ap_if_walk).
    if (ifSections !== undefined) {
      state.plain = false;
      loc = this.withIfSections(state, loc, uri, query);
      const located = loc;
      if (loc.settings.setEnvIf) applySetEnvIf(loc.settings.setEnvIf, state.req, uri, state.env, (expr) => this.setEnvIfExpr(state, located, uri, query, expr), false);
    }
    // What `Require expr` and hook scripts read: the request as located.
    state.located = { loc, uri, query };
    // Access: Require (host-based and Basic authentication).
    const denied = this.checkAccess(state, loc.settings, uri, loc.walk.filename);
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
      const n = negotiate(walk.filename, settings, negotiationRequest(state, query, walk.pathInfo));
      // Variants were found: the answer depends on the request's Accept* headers.
      if (n.kind !== "none") state.plain = false;
      if (n.kind === "list" || n.kind === "failed") return negotiationError(n, walk.filename, settings);
      if (n.kind === "found") {
        state.negotiated = { headers: n.headers, dirStat: n.dirStat };
        const found = n.name;
        const newUri = uri.slice(0, uri.length - walk.pathInfo.length - path.basename(walk.filename).length) + found + walk.pathInfo;
        return this.subrequest(state, newUri, query, depth);
      }
    }

    // fixups: per-directory mod_rewrite (may redirect internally), SetEnv, mod_dir.
    let staticType = translated.forcedType;
    if (settings.rewrite?.engine && settings.rewrite.rules.length > 0 && !state.rewriteEnded) {
      state.plain = false;
      const perDir = this.perDirectoryRewrite(state, settings, uri, query, walk);
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
    if (handler === "type-map" && walk.stat !== null) return this.typeMap(state, walk, settings, options, uri, query, depth);
    return this.defaultHandler(state, walk, settings, staticType);
  }

  /**
   * mod_alias's try_redirect and fixup_redir for `Redirect [status] URL` in a section: the URL
   * expression evaluated (its path escaped, query and fragment kept), made absolute, the
   * request's query added when it has none of its own.
   */
  private locationRedirect(state: RequestState, loc: Located, uri: string, query: string | null, wide: NonNullable<DirSettings["locationRedirect"]>["value"], settings: DirSettings): MapResult {
    let target = "";
    if (wide.url !== undefined) {
      try {
        target = escapePathKeepQuery(evaluateString(wide.url, this.exprRequest(state, loc, uri, query)));
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

  /**
   * mod_negotiation's handler for a type map: the variant it chooses is served by an internal
   * redirect to its URI (beside the map's URL, with the path info and query), carrying the
   * negotiation headers; an inline `Body:` variant is sent from the map.
   */
  private typeMap(state: RequestState, walk: WalkResult, settings: DirSettings, options: ReadonlySet<string>, uri: string, query: string | null, depth: number): Mapped {
    state.plain = false;
    const neg = negotiationRequest(state, query, walk.pathInfo);
    let n = negotiateTypeMap(walk.filename, settings, neg);
    if (n.kind === "list" || n.kind === "failed") return negotiationError(n, walk.filename, settings);
    if (n.kind !== "found") return bad(404, `no variants in ${walk.filename}`, settings);
    if (n.transparent && n.variant.body === undefined && variantNegotiates(path.join(path.dirname(walk.filename), n.name), settings, options, neg)) {
      return { kind: "error", status: 506, settings };
    }
    // A choice is not for HTTP/1.0 caches (unless CacheNegotiatedDocs): Expires now (r->no_cache), kept through the redirect.
    if (state.req.protocol === "HTTP/1.0" && settings.cacheNegotiatedDocs?.value !== true) {
      n = { ...n, headers: [...n.headers, ["Expires", httpDate(Math.floor(Date.now() / 1000))]] };
    }
    const v = n.variant;
    if (v.body !== undefined) {
      const entity: HeaderPair[] = [];
      if (v.type) entity.push(["Content-Type", v.charset ? `${v.type}; charset=${v.charset}` : v.type]);
      if (v.languages.length > 0) entity.push(["Content-Language", v.languages.join(",")]);
      if (v.encoding) entity.push(["Content-Encoding", v.encoding]);
      return { kind: "inline", file: walk.filename, body: v.body, entity, headers: n.headers, settings, env: state.env };
    }
    state.negotiated = { headers: n.headers, dirStat: n.dirStat, typeMap: true };
    const mapUri = uri.slice(0, uri.length - walk.pathInfo.length);
    const udir = escapeUri(mapUri.slice(0, mapUri.lastIndexOf("/") + 1));
    return this.internalRedirect(state, udir + n.name + walk.pathInfo + (query !== null ? `?${query}` : ""), uri, query, depth);
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
    // mod_headers' fixup has run: RequestHeader's edits are what the access log shows (%{X}i);
    // the static answer itself still reads the request's own fields.
    const requestRules = rulesOf(settings.headers, "RequestHeader");
    const edited = requestRules.length === 0 ? null : { requestHeaders: applyRequestHeaderRules(requestRules, state.req.headers, { env: state.env, requestHeaders: state.req.headers, startMicros: Date.now() * 1000 }) };
    const method = state.req.method;
    if (method === "GET" || method === "HEAD" || method === "POST") {
      if (walk.stat === null || walk.stat.isDirectory()) return { kind: "error", status: 404, file: walk.filename, settings, ...edited };
      if (walk.pathInfo !== "" && settings.acceptPathInfo?.value !== "on") return { kind: "error", status: 404, file: walk.filename, settings, ...edited };
    }
    const forceType = settings.forceType?.value;
    if (staticType === null && forceType !== undefined && forceType !== "none") staticType = forceType;
    return { kind: "static", file: walk.filename, stat: walk.stat, forcedType: staticType, settings, env: state.env, negotiated: state.negotiated, ...edited };
  }

  /** map_to_storage and type_checker for a translated request: the walk, the sections, the handler. */
  private locate(t: HostTables, uri: string, translated: Translation): Located | MapResult {
    const walk = walkPath(translated.filename);
    if (walk.forbidden) return bad(403, `permission denied: ${walk.filename}`);
    const isDir = walk.stat?.isDirectory() ?? false;
    const dir = walk.stat === null ? parentDir(walk.filename) : isDir ? withSlash(walk.filename) : parentDir(walk.filename);
    const basename = isDir ? null : path.basename(walk.filename);
    let settings: DirSettings;
    try {
      settings = t.sections.settingsFor(dir, basename, uri, this.options.htaccess ?? null);
    } catch (err) {
      // Messages are text (file names from the configuration side); reasons are byte strings.
      return bad(500, toByteString((err as Error).message));
    }
    if (t.restrictsSymlinks) {
      const link = forbiddenSymlink(walk.filename, (d) => effectiveOptions(t.sections.settingsFor(d, null, uri, null)));
      if (link !== null) return bad(403, `Symbolic link not allowed or link target not accessible: ${link}`, settings);
    }
    return { at: Date.now(), translated, walk, isDir, settings, options: effectiveOptions(settings), handler: handlerFor(translated, settings, isDir, walk.filename), env: resolveEnv(settings.env), pathTranslated: undefined, plan: undefined };
  }

  /**
   * ap_if_walk: each <If>/<ElseIf>/<Else> in order (an else-branch only when the branches
   * before it in its chain did not apply), the applying ones merged over the settings, then
   * the <If> sections nested in those, level by level. The result is this request's alone.
   */
  private withIfSections(state: RequestState, loc: Located, uri: string, query: string | null): Located {
    const ctx = this.exprRequest(state, loc, uri, query);
    let settings: DirSettings = { ...loc.settings };
    delete settings.ifSections;
    let list: readonly IfSection[] | undefined = loc.settings.ifSections;
    while (list !== undefined && list.length > 0) {
      const nested: IfSection[] = [];
      let previous: boolean | null = null;
      for (const section of list) {
        if (section.kind !== "If" && previous === true) continue;
        if (section.expr !== undefined) {
          if (!this.condition(state, section, ctx)) {
            previous = false;
            continue;
          }
          previous = true;
        } else previous = null;
        const { ifSections, ...own } = section.settings;
        settings = mergeDirSettings(settings, own);
        if (ifSections) nested.push(...ifSections);
      }
      list = nested;
    }
    const { translated, walk, isDir } = loc;
    return { ...loc, settings, options: effectiveOptions(settings), handler: handlerFor(translated, settings, isDir, walk.filename), env: resolveEnv(settings.env), plan: undefined };
  }

  /** SetEnvIfExpr's condition; one that cannot be evaluated is logged and counts as false, as mod_setenvif does. */
  private setEnvIfExpr(state: RequestState, loc: Located, uri: string, query: string | null, expr: Expr): false | { match: RegExpExecArray | null } {
    try {
      const { value, match } = evaluateExprMatch(expr, this.exprRequest(state, loc, uri, query));
      return value ? { match } : false;
    } catch (err) {
      if (!(err instanceof ExprEvalError)) throw err;
      logExprFailure(this.options.log, state.req, "setenvif", expr, err);
      return false;
    }
  }


  /** An <If>'s condition; one that cannot be evaluated is logged and counts as false (AH00039). */
  private condition(state: RequestState, section: IfSection, ctx: ExprRequest): boolean {
    try {
      return evaluateExpr(section.expr!, ctx);
    } catch (err) {
      if (!(err instanceof ExprEvalError)) throw err;
      logExprFailure(this.options.log, state.req, "core", section.expr!, err);
      this.options.log.log("error", "core", `${requestLogPrefix(state.req)}AH00039: Failed to evaluate <If > condition: ${err.message}`);
      return false;
    }
  }

  /** What an ap_expr reads of this request, as httpd's variables and functions give it after the location walk. */
  private exprRequest(state: RequestState, loc: Located | undefined, uri: string, query: string | null): ExprRequest {
    const req = state.req;
    // Before the request was located (a server-context redirect, say) there is no file yet.
    const walk = loc?.walk ?? { filename: "", pathInfo: "" };
    const translated = loc?.translated ?? { contextPrefix: "", contextDocumentRoot: state.tables.documentRoot, scriptAlias: null };
    return {
      remoteAddress: req.remoteAddress,
      // httpd has merged repeated request fields into one value (`a, b`) by then.
      header: (name) => mergedHeaderValue(req.headers, name.toLowerCase()),
      reqenv: (name) => state.env.get(name),
      // httpd's Vary fixup drops names already there, whatever their case.
      vary: (name) => {
        const lower = name.toLowerCase();
        if (!state.exprVary?.some((v) => v.toLowerCase() === lower)) (state.exprVary ??= []).push(name);
      },
      lookupUri: (u) => this.lookupStatus(state, u, this.translateAliases(state.tables, u, null, null), u),
      lookupFile: (file) => this.lookupStatus(state, uri, { filename: file, scriptAlias: null, contextPrefix: "", contextDocumentRoot: state.tables.documentRoot, forcedHandler: null, forcedType: null }, ""),
      variable: (name) => {
        switch (name) {
          case "REQUEST_FILENAME":
          case "SCRIPT_FILENAME":
            return walk.filename;
          case "PATH_INFO":
            return walk.pathInfo;
          case "DOCUMENT_URI":
            return state.env.get("DOCUMENT_URI") ?? uri;
          // mod_wsgi sets no context for its aliases before its handler runs; mod_alias's Alias does.
          case "CONTEXT_PREFIX":
            return translated.scriptAlias ? "" : translated.contextPrefix;
          case "CONTEXT_DOCUMENT_ROOT":
            return translated.scriptAlias ? state.tables.documentRoot : translated.contextDocumentRoot;
          // mod_wsgi's translate hook names the handler of a WSGIScriptAlias'd request.
          case "HANDLER":
            return translated.scriptAlias ? "wsgi-script" : "";
          // r->mtime is still 0: the epoch in local time.
          case "LAST_MODIFIED":
            return timeVariable("TIME", new Date(0));
          case "REQUEST_STATUS":
            return "200";
          case "IS_SUBREQ":
            return "false";
          case "API_VERSION":
            return "20120211";
          case "IPV6":
            return req.remoteAddress.includes(":") && !req.remoteAddress.startsWith("::ffff:") ? "on" : "off";
          case "CONN_REMOTE_ADDR":
            return req.remoteAddress;
          case "HTTP2":
            return "off";
          // No content type is chosen yet (type_checker runs later).
          case "CONTENT_TYPE":
          case "REMOTE_IDENT":
          case "REQUEST_LOG_ID":
          case "CONN_LOG_ID":
          case "SCRIPT_USER":
          case "SCRIPT_GROUP":
            return "";
        }
        if (name.startsWith("TIME")) return timeVariable(name, new Date());
        if (name.startsWith("HTTP_")) return mergedHeaderValue(req.headers, name.slice(5).toLowerCase().replace(/_/g, "-"));
        return serverVariable(name, state, uri, query);
      },
    };
  }

  /** mod_alias, then mod_wsgi's aliases, then DocumentRoot. */
  private translateAliases(t: HostTables, uri: string, forcedHandler: string | null, forcedType: string | null): Translation {
    const hit = t.aliasTable.match(uri);
    if (hit) {
      const alias = t.aliases[hit.index];
      const { prefix, target } = t.aliasBytes[hit.index];
      if (!alias.isScript) {
        return {
          filename: hit.target,
          scriptAlias: null,
          contextPrefix: alias.regex ? "" : prefix,
          contextDocumentRoot: alias.regex ? hit.target : target,
          forcedHandler,
          forcedType,
        };
      }
      // mod_wsgi appends the unmatched tail of the URL to the target, regex form included; a
      // mount at exactly "/" keeps the whole URL.
      const filename = alias.regex
        ? hit.target + uri.slice(hit.matchedLength)
        : alias.pattern === "/"
          ? target + uri
          : hit.target;
      return {
        filename,
        scriptAlias: { options: alias.options },
        contextPrefix: alias.regex ? uri.slice(0, hit.matchedLength) : prefix,
        contextDocumentRoot: alias.regex ? hit.target : target,
        forcedHandler,
        forcedType,
      };
    }
    return { filename: t.documentRoot + uri, scriptAlias: null, contextPrefix: "", contextDocumentRoot: t.documentRoot, forcedHandler, forcedType };
  }

  /** PATH_TRANSLATED: path_info mapped as a URL (Apache runs a subrequest for it). */
  private pathTranslated(state: RequestState, pathInfo: string): string {
    const t = state.tables;
    if (t.serverRewrite) {
      const outcome = applyRewrite(t.serverRewrite, this.rewriteContext(state, pathInfo, null, null, null));
      if (outcome.kind === "file") return outcome.filename;
      if (outcome.kind === "uri") pathInfo = outcome.uri;
    }
    return this.translateAliases(t, pathInfo, null, null).filename;
  }

  /** null when access is granted; a Promise only when Basic authentication, a WSGIAccessScript or a host-name rule's DNS lookup runs. */
  private checkAccess(state: RequestState, settings: DirSettings, uri: string, filename: string): MapResult | null | Promise<MapResult | null> {
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
          if (!someAuthRequired(settings.authz, req.method)) this.options.log.log("error", "wsgi", `${requestLogPrefix(req)}${textOf(line)}`);
          return this.checkRequire(state, settings, uri, filename);
        });
      }
      if (allowed) return satisfy === "any" ? null : this.checkRequire(state, settings, uri, filename);
      const line = `AH01797: client denied by server configuration: ${filename}`;
      if (satisfy !== "any") return { kind: "error", status: 403, reason: line, reasonModule: "access_compat", settings };
      // Satisfy Any: the denial is logged, and Require (with authentication) may still admit the
      // client. A plan could not repeat the log line, so none is made.
      state.plain = false;
      this.options.log.log("error", "access_compat", `${requestLogPrefix(req)}${textOf(line)}`);
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
      log: this.options.log,
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
    return this.authenticate(state, settings, uri, filename, requirement, authType);
  }

  private async authenticate(state: RequestState, settings: DirSettings, uri: string, filename: string, requirement: Requirement | null, authType: string | undefined): Promise<MapResult | null> {
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
        ...(authType?.toLowerCase() === "digest" ? { digest: this.digestRequest(state) } : {}),
      },
      requirement,
      {
        ...(authType ? { type: authType } : {}),
        ...(settings.authName ? { name: settings.authName.value } : {}),
        ...(settings.authUserFile ? { userFile: settings.authUserFile.value } : {}),
        ...(settings.authGroupFile ? { groupFile: settings.authGroupFile.value } : {}),
        ...(settings.authBasicProvider ? { providers: settings.authBasicProvider.value } : {}),
        ...(settings.authDigest ? { digest: settings.authDigest.value } : {}),
      },
      { log: this.options.log, digestState: this.digest, ...this.wsgiAuthHooks(state, settings, uri) },
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
  private requireExpr(state: RequestState, uri: string, pass?: LocatedPass): (expr: Expr, user: string | undefined) => boolean | null {
    return (expr, user) => {
      // A lookup's subrequest (`pass`) is evaluated as located there, the request as it was located.
      const where = pass ?? state.located!;
      const base = this.exprRequest(state, where.loc, uri, where.query);
      const ctx: ExprRequest = user === undefined ? base : { ...base, variable: (n) => (n === "REMOTE_USER" ? user : base.variable(n)) };
      try {
        return evaluateExpr(expr, ctx);
      } catch (err) {
        if (!(err instanceof ExprEvalError)) throw err;
        logExprFailure(this.options.log, state.req, "authz_core", expr, err);
        this.options.log.log("error", "authz_core", `${requestLogPrefix(state.req)}AH02320: Error evaluating expression in 'Require expr': ${err.message}`);
        return null;
      }
    };
  }

  /** What mod_auth_digest checks a Digest answer's `uri` against: the request-target, and the server as the request names it. */
  private digestRequest(state: RequestState) {
    return {
      target: state.requestUri,
      serverName: state.serverName,
      serverPort: Number(state.serverPort),
      ...(state.sentPort ? { hostPort: Number(state.sentPort) } : {}),
      defaultPort: state.scheme === "https" ? 443 : 80,
    };
  }

  private requirement(container: AuthzContainer): Requirement {
    let r = this.requirements.get(container);
    if (!r) {
      r = compileRequire(toRequireInput(container));
      this.requirements.set(container, r);
      if (usesExpr(container)) this.exprRequirements.add(r);
    }
    return r;
  }

  private perDirectoryRewrite(
    state: RequestState,
    settings: DirSettings,
    uri: string,
    query: string | null,
    walk: WalkResult,
  ):
    | { kind: "redirect-to"; url: string }
    | { kind: "result"; result: MapResult }
    | { kind: "continue"; forcedHandler: string | null; forcedType: string | null } {
    const rw = settings.rewrite!;
    const where = rw.rules[0]?.where;
    // The rules belong to the directory whose section (or .htaccess) defined them.
    const directory = ruleDirectory(state.tables, rw, walk) ?? parentDir(walk.filename);
    const compiled = state.tables.perDirRules(rw, directory);
    const outcome = applyRewrite(compiled, this.rewriteContext(state, uri, query, walk.filename, walk.pathInfo === "" ? null : walk.pathInfo));
    this.applyRewriteEnv(state, outcome);
    if (outcome.end) state.rewriteEnded = true;
    switch (outcome.kind) {
      case "internal-redirect":
        return { kind: "redirect-to", url: outcome.url };
      case "redirect":
        return { kind: "result", result: { kind: "redirect", status: outcome.status, location: outcome.location, settings } };
      case "status":
        return { kind: "result", result: this.rewriteStatus(state, outcome.status, `rewrite rule at ${toByteString(where?.file ?? "")}:${where?.line} answered ${outcome.status}`, settings) };
      default:
        return { kind: "continue", forcedHandler: outcome.forcedHandler, forcedType: outcome.forcedType };
    }
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
      const mapped = name.startsWith("/") ? this.translateAliases(t, candidate, null, null).filename : path.join(dirPath, name);
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
    const headers = requestRules.length === 0 ? req.headers : applyRequestHeaderRules(requestRules, req.headers, {
      env: state.env, requestHeaders: req.headers, startMicros: Date.now() * 1000,
      ...(hasExprRule(requestRules) ? exprContext(this.exprRequest(state, loc, uri, query), this.options.log, req) : {}),
    });
    const route: RouteEnviron = {
      scriptName,
      pathInfo,
      // With server rewrite rules PATH_TRANSLATED may depend on the request: computed each time then.
      pathTranslated: pathInfo === "" ? null : state.tables.serverRewrite ? this.pathTranslated(state, pathInfo) : (loc.pathTranslated ??= this.pathTranslated(state, pathInfo)),
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
    const target: Omit<RoutePlan, keyof PlanKey> = {
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
    if (state.plain && state.routeReused && !this.logExprs && !hasExprRule(settings.headers)) loc.plan = { hostHeader: state.hostHeader, localAddress: req.localAddress, localPort: req.localPort, scheme: req.scheme, ...target };
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

  private rewriteContext(state: RequestState, uri: string, query: string | null, filename: string | null, pathInfo: string | null): RewriteContext {
    const t = state.tables;
    return {
      uri,
      query,
      ...(filename !== null ? { filename, pathInfo } : {}),
      endSeen: state.rewriteEnded,
      // httpd skips [NS] and [R] rules in the subrequests of DirectoryIndex and MultiViews.
      ...(state.subrequest ? { isSubrequest: true } : {}),
      redirectScriptUrl: state.redirectScriptUrl,
      variable: (name) => serverVariable(name, state, uri, query),
      // Per-directory rules run on the located request; server-context ones before it is located.
      expr: (expr, novary) => {
        const base = this.exprRequest(state, filename !== null ? state.located?.loc : undefined, uri, query);
        const { vary: _vary, ...quiet } = base;
        try {
          const { value, match } = evaluateExprMatch(expr, novary ? quiet : base);
          return { value, match };
        } catch (err) {
          if (!(err instanceof ExprEvalError)) throw err;
          logExprFailure(this.options.log, state.req, "rewrite", expr, err);
          return null;
        }
      },
      matchesServer: (host, port) => namesThisServer(t.host, state.configured, host, port),
      stat: (p) => {
        let st: fs.Stats | undefined;
        let lst: fs.Stats | undefined;
        try {
          st = fs.statSync(fsPath(p), { throwIfNoEntry: false });
          lst = st ? fs.lstatSync(fsPath(p)) : undefined;
        } catch {
          return null;
        }
        if (!st) return null;
        return { isFile: st.isFile(), isDir: st.isDirectory(), size: st.size, isSymlink: lst?.isSymbolicLink() ?? false, isExecutable: (st.mode & 0o111) !== 0 };
      },
      lookupUri: (url) => this.lookupStatus(state, url, this.translateAliases(t, url, null, null), url),
      lookupFile: (file) => {
        // httpd's file subrequest has no URI: its log lines name "".
        const status = this.lookupStatus(state, uri, { filename: file, scriptAlias: null, contextPrefix: "", contextDocumentRoot: t.documentRoot, forcedHandler: null, forcedType: null }, "");
        // A lookup of a missing file succeeds too (nothing has looked for it yet): -F asks for both.
        return status < 300 && fs.existsSync(fsPath(file)) ? status : 404;
      },
    };
  }

  /**
   * A status a rewrite rule set ([F], [G], [R=4xx]): no handler has run, so a 405 or 501
   * lists only TRACE in Allow (httpd's make_allow over an empty r->allowed).
   */
  private rewriteStatus(state: RequestState, status: number, reason: string, settings: DirSettings | null): MapResult {
    if (status !== 405 && status !== 501) return bad(status, reason, settings);
    const trace = (state.tables.host.traceEnable?.value ?? this.config.main.traceEnable?.value ?? "on") !== "off";
    return { kind: "error", status, headers: [["Allow", trace ? "TRACE" : ""]], reason, settings };
  }

  /**
   * The status of RewriteCond -U / -F's subrequest: the translation, walk and access checks of
   * a lookup, no handler (so a missing file is still 200). Basic authentication runs with the
   * request's credentials, as the subrequest carries them (lookupAccessStatus); `logUri` is
   * what its log lines name.
   */
  private lookupStatus(state: RequestState, uri: string, translated: Translation, logUri: string): number {
    // A `Require expr` of the looked-up location may itself look up (`-U`): as httpd's nested
    // subrequests, at most LimitInternalRecursion deep.
    if (state.lookupDepth >= LIMIT_INTERNAL_RECURSION) {
      this.options.log.log("error", "core", `${requestLogPrefix(state.req)}AH00125: Request exceeded the limit of ${LIMIT_INTERNAL_RECURSION} subrequest nesting levels due to probable configuration error. Use 'LimitInternalRecursion' to increase the limit if necessary. Use 'LogLevel debug' to get a backtrace.`);
      return 500;
    }
    const located = this.locate(state.tables, uri, translated);
    if (!("translated" in located)) return located.kind === "error" ? located.status : 200;
    const settings = located.settings;
    const ac = settings.accessCompat;
    if (ac !== undefined) {
      // A lookup cannot wait for DNS: host-name rules match nothing here.
      const allowed = accessAllowed(ac, { remoteAddress: state.req.remoteAddress, env: state.env, method: state.req.method });
      const satisfy = satisfyFor(ac, state.req.method);
      if (satisfy === "any" && allowed) return 200;
      if (satisfy !== "any" && !allowed) return 403;
    }
    const requirement = settings.authz ? this.requirement(settings.authz) : null;
    const req = state.req;
    return lookupAccessStatus(
      {
        remoteAddress: req.remoteAddress,
        localAddress: req.localAddress,
        method: req.method,
        authorization: headerValue(req.headers, "authorization"),
        uri: logUri,
        logPrefix: requestLogPrefix(req),
        env: state.env,
        ...(settings.authType?.value === "Digest" ? { digest: this.digestRequest(state) } : {}),
      },
      requirement,
      {
        ...(settings.authType ? { type: settings.authType.value } : {}),
        ...(settings.authName ? { name: settings.authName.value } : {}),
        ...(settings.authUserFile ? { userFile: settings.authUserFile.value } : {}),
        ...(settings.authGroupFile ? { groupFile: settings.authGroupFile.value } : {}),
        ...(settings.authBasicProvider ? { providers: settings.authBasicProvider.value } : {}),
        ...(settings.authDigest ? { digest: settings.authDigest.value } : {}),
      },
      {
        log: this.options.log,
        digestState: this.digest,
        onAuthenticationInfo: (info) => (state.authInfo = info),
        ...(requirement && this.exprRequirements.has(requirement) ? { expr: this.nested(state, this.requireExpr(state, logUri, { loc: located, uri, query: null })) } : {}),
      },
    );
  }

  /** `fn` run one subrequest level deeper (lookups from a lookup's `Require expr`). */
  private nested<A extends unknown[], R>(state: RequestState, fn: (...args: A) => R): (...args: A) => R {
    return (...args) => {
      state.lookupDepth++;
      try {
        return fn(...args);
      } finally {
        state.lookupDepth--;
      }
    };
  }

  private applyRewriteEnv(state: RequestState, outcome: RewriteOutcome): void {
    for (const [k, v] of outcome.env) {
      if (v === null) state.env.delete(k);
      else state.env.set(k, v);
    }
    for (const spec of outcome.cookies) {
      const cookie = rewriteCookie(spec, Date.now());
      if (cookie && !state.cookies?.has(cookie.name)) (state.cookies ??= new Map()).set(cookie.name, cookie.value);
    }
    for (const h of outcome.vary) if (!state.vary?.includes(h)) (state.vary ??= []).push(h);
  }
}

function serverVariable(name: string, state: RequestState, uri: string, query: string | null): string {
  const req = state.req;
  if (name.startsWith("HTTP:")) return headerValue(req.headers, name.slice(5).toLowerCase()) ?? "";
  if (name.startsWith("ENV:")) return state.env.get(name.slice(4)) ?? toByteString(process.env[name.slice(4)] ?? "");
  if (name.startsWith("SSL:")) return "";
  switch (name) {
    case "DOCUMENT_ROOT":
    case "CONTEXT_DOCUMENT_ROOT":
      return state.tables.documentRoot;
    case "CONTEXT_PREFIX":
      return "";
    case "SERVER_NAME":
      return state.serverName;
    case "SERVER_PORT":
      return state.serverPort;
    case "SERVER_ADDR":
      return req.localAddress;
    case "SERVER_PROTOCOL":
      return req.protocol;
    case "SERVER_SOFTWARE":
      return state.tables.serverBanner;
    case "SERVER_ADMIN":
      return state.tables.serverAdmin;
    case "REQUEST_SCHEME":
      return state.scheme;
    case "HTTPS":
      return req.scheme === "https" ? "on" : "off";
    case "REMOTE_ADDR":
      return req.remoteAddress;
    case "REMOTE_PORT":
      return String(req.remotePort);
    case "REMOTE_HOST":
      return req.remoteAddress;
    case "REMOTE_USER":
      return state.authEnviron.REMOTE_USER ?? "";
    case "AUTH_TYPE":
      return state.authEnviron.AUTH_TYPE ?? "";
    case "REQUEST_METHOD":
      return req.method;
    case "THE_REQUEST":
      return `${req.method} ${req.target} ${req.protocol}`;
    case "API_VERSION":
      return "20120211:0";
    case "REQUEST_URI":
      return uri;
    case "QUERY_STRING":
      return query ?? "";
    default: {
      // HTTP_USER_AGENT and friends: the header of that name.
      if (name.startsWith("HTTP_")) return headerValue(req.headers, name.slice(5).toLowerCase().replace(/_/g, "-")) ?? "";
      return "";
    }
  }
}

/** The directory whose per-dir rules these are: the deepest applied Directory section that set them. */
function ruleDirectory(t: HostTables, rw: NonNullable<DirSettings["rewrite"]>, walk: WalkResult): string | null {
  const target = walk.stat?.isDirectory() ? withSlash(walk.filename) : parentDir(walk.filename);
  let best: string | null = null;
  for (const s of [...t.config.main.sections, ...t.host.sections]) {
    if (s.kind !== "Directory" || s.isRegex || s.settings.rewrite === undefined) continue;
    if (!s.settings.rewrite.rules.some((r) => rw.rules.includes(r))) continue;
    const p = withSlash(toByteString(s.pattern));
    if (target.startsWith(p) && (best === null || p.length > best.length)) best = p;
  }
  return best;
}

/** Some `Require wsgi-group` line applies (mod_wsgi's authorization provider). */
function usesExternal(c: AuthzContainer | undefined): boolean {
  if (c === undefined) return false;
  return c.items.some((i) => (i.kind === "require" ? i.provider === "wsgi-group" : usesExternal(i)));
}

function usesExpr(c: AuthzItem): boolean {
  return c.kind === "require" ? c.provider === "expr" : c.items.some(usesExpr);
}

function toRequireInput(c: AuthzItem): import("../auth").RequireInput {
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

/** Merged SetEnvIf rule lists with a SetEnvIfExpr among them (lists are made once per combination of sections). */
const setEnvIfExprLists = new WeakMap<readonly SetEnvIfRule[], boolean>();
function hasSetEnvIfExpr(rules: readonly SetEnvIfRule[]): boolean {
  let has = setEnvIfExprLists.get(rules);
  if (has === undefined) {
    has = rules.some((r) => r.expr !== undefined);
    setEnvIfExprLists.set(rules, has);
  }
  return has;
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

/** type_checker: which handler runs a request (a rewrite's H=, WSGIScriptAlias, SetHandler, AddHandler). */
function handlerFor(translated: Translation, settings: DirSettings, isDir: boolean, filename: string): string | null {
  const handler = translated.forcedHandler ?? (translated.scriptAlias ? "wsgi-script" : null);
  const setHandler = settings.handler?.value;
  if (setHandler && setHandler.toLowerCase() !== "none") return translated.forcedHandler ?? setHandler;
  if (!handler && !isDir) return handlerByExtension(settings, filename);
  return handler;
}

/** mod_mime: the handler of the last extension that has one (AddHandler). */
function handlerByExtension(settings: DirSettings, file: string): string | null {
  const map = settings.addHandlers;
  if (!map || map.size === 0) return null;
  const parts = path.basename(file).split(".");
  let handler: string | null = null;
  for (let i = 1; i < parts.length; i++) {
    const h = map.get(parts[i].toLowerCase());
    if (h !== undefined) handler = h.value === "" ? null : h.value;
  }
  return handler;
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

/**
 * setup_choice_response's check on a transparent type map's choice (a neighbour: the map's
 * settings are its own): a variant that is a type map itself, or that MultiViews would
 * negotiate, is a configuration error, 506 Variant Also Negotiates.
 */
function variantNegotiates(file: string, settings: DirSettings, options: ReadonlySet<string>, req: NegotiationRequest): boolean {
  const set = settings.handler?.value;
  if (set !== undefined && set !== "none") {
    if (set === "type-map") return true;
  } else if (path.basename(file).split(".").slice(1).some((e) => settings.addHandlers?.get(e.toLowerCase())?.value === "type-map")) {
    return true;
  }
  if (!options.has("MultiViews") || fs.existsSync(fsPath(file))) return false;
  return negotiate(file, settings, { ...req, pathInfo: "" }).kind !== "none";
}

/** What mod_negotiation reads of a request. */
function negotiationRequest(state: RequestState, query: string | null, pathInfo: string): NegotiationRequest {
  // httpd has merged repeated request fields (`Accept: a` twice is `a, a`) by then.
  const h = (name: string) => mergedHeaderValue(state.req.headers, name);
  return {
    method: state.req.method,
    accept: h("accept"), acceptLanguage: h("accept-language"), acceptCharset: h("accept-charset"), acceptEncoding: h("accept-encoding"),
    negotiate: h("negotiate"), userAgent: h("user-agent"),
    hasQuery: query !== null, pathInfo, env: state.env,
  };
}

/** 406 or 300 with the variant list, or a type map that cannot be read. */
function negotiationError(n: Extract<Negotiation, { kind: "list" | "failed" }>, file: string, settings: DirSettings): MapResult {
  if (n.kind === "failed") return { kind: "error", status: n.status, reason: n.reason, reasonModule: "negotiation", file, settings };
  const reason = n.status === 406 ? `AH00690: no acceptable variant: ${file}` : undefined;
  return { kind: "error", status: n.status, headers: n.headers, variantList: n.variantList, settings, ...(reason ? { reason, reasonModule: "negotiation" } : {}) };
}

/** `reason`: a byte string, like the paths it names (logged through textOf). */
function bad(status: number, reason: string, settings: DirSettings | null = null): MapResult {
  return { kind: "error", status, reason, settings };
}

function parentDir(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i + 1);
}

function withSlash(p: string): string {
  return p.endsWith("/") ? p : p + "/";
}

/** An application request's map result; one construction, so every result has one shape. */
function wsgiTarget(p: Omit<RoutePlan, keyof PlanKey>, environ: EnvironPairs): WsgiTarget {
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
