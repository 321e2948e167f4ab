/**
 * The configuration model: what the mapper (Apache's translate phase), the supervisor and the
 * front end read. Shaped after httpd's own split: server-wide settings, per-host settings, and
 * per-directory settings (`DirSettings`) that are merged section by section at request time
 * with `mergeDirSettings`, using each module's own merge rule.
 */
import type { LogLevel } from "../log/error-log";
import type { Where } from "./errors";
import type { ConfigRegex } from "./regex";
import type { AccessCompat } from "../auth/access-compat";
import type { MethodLimit } from "../auth/method-limit";
import type { DigestSettings } from "../auth/digest";
import type { ReadTimeoutStage } from "./request-read-timeout";
import { toByteString } from "../engine/byte-string";
import { mergeFileETag, type FileETagBits } from "./file-etag";
import type { Expr, StringExpr } from "./expr";
import type { RewriteCondition, RewriteRule } from "./rewrite-rule";

export type { Where } from "./errors";

export interface ListenAddress {
  /** Undefined: all interfaces. IPv6 without brackets. */
  readonly host?: string;
  readonly port: number;
  readonly where: Where;
}

/** mod_wsgi's per-mount options (WSGIScriptAlias*, WSGIHandlerScript, WSGIImportScript). */
export interface WsgiScriptOptions {
  processGroup?: string;
  applicationGroup?: string;
  callableObject?: string;
  passAuthorization?: boolean;
}

export type AliasKind = "Alias" | "AliasMatch" | "WSGIScriptAlias" | "WSGIScriptAliasMatch";

export interface AliasDirective {
  readonly kind: AliasKind;
  /** WSGIScriptAlias*: forces handler wsgi-script. */
  readonly isScript: boolean;
  /** *Match forms. */
  readonly regex: boolean;
  /** URL path (prefix forms) or the regex source as written. */
  readonly pattern: string;
  /** Compiled regex for *Match forms. */
  readonly compiled?: ConfigRegex;
  /** Filesystem target; may hold `$0`..`$9` in *Match forms. */
  readonly target: string;
  readonly options: WsgiScriptOptions;
  readonly where: Where;
}

export interface RedirectDirective {
  readonly regex: boolean;
  readonly pattern: string;
  readonly compiled?: ConfigRegex;
  /** 301, 302, 303, 410, or another 3xx/4xx given numerically. */
  readonly status: number;
  /** Undefined for `gone` (410). */
  readonly url?: string;
  /**
   * `pattern` (a Redirect's URL-path prefix) and `url` as their UTF-8 octets (byte strings,
   * engine/byte-string.ts), made once at load: the decoded request path they meet is one, and
   * the Location header is written octet for octet.
   */
  readonly prefixBytes: string;
  readonly urlBytes?: string;
  readonly where: Where;
}

export interface HandlerScript {
  readonly name: string;
  readonly script: string;
  readonly options: WsgiScriptOptions;
  readonly where: Where;
}

/**
 * A hook script of WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript or
 * WSGIDispatchScript: the file, and the application group its functions run in, as written
 * (`%{GLOBAL}` when absent; only `%{GLOBAL}`, `%{SERVER}` and `%{HOST}` are expanded).
 */
export interface HookScript {
  /** ServerRoot-relative resolved path (text). */
  readonly script: string;
  readonly applicationGroup: string;
}

export interface ImportScript {
  readonly script: string;
  readonly processGroup: string;
  readonly applicationGroup: string;
  readonly where: Where;
}

/**
 * WSGIDaemonProcess, with mod_wsgi's defaults filled in. Times are seconds, sizes bytes;
 * 0 means "off" as in mod_wsgi.
 */
export interface DaemonProcessSpec {
  readonly name: string;
  processes: number;
  /** True when `processes=` was given, even as 1: that makes wsgi.multiprocess true. */
  processesExplicit: boolean;
  threads: number;
  maximumRequests: number;
  restartInterval: number;
  inactivityTimeout: number;
  requestTimeout: number;
  interruptTimeout: number;
  gracefulTimeout: number;
  evictionTimeout: number;
  shutdownTimeout: number;
  deadlockTimeout: number;
  startupTimeout: number;
  queueTimeout: number;
  connectTimeout: number;
  socketTimeout: number;
  responseSocketTimeout: number;
  listenBacklog: number;
  memoryLimit: number;
  virtualMemoryLimit: number;
  cpuTimeLimit: number;
  cpuPriority: number;
  stackSize: number;
  sendBufferSize: number;
  receiveBufferSize: number;
  headerBufferSize: number;
  responseBufferSize: number;
  displayName?: string;
  home?: string;
  user?: string;
  group?: string;
  supplementaryGroups: string[];
  umask?: number;
  lang?: string;
  locale?: string;
  scriptUser?: string;
  scriptGroup?: string;
  socketUser?: string;
  pythonPath: string[];
  pythonHome?: string;
  pythonEggs?: string;
  switchInterval?: number;
  serverMetrics: boolean;
  readonly where: Where;
}

export type OptionName =
  | "ExecCGI"
  | "Indexes"
  | "MultiViews"
  | "FollowSymLinks"
  | "SymLinksIfOwnerMatch"
  | "Includes"
  | "IncludesNOEXEC";

/**
 * `Options`, kept the way httpd keeps it: `opts` is the absolute set, `add`/`remove` the
 * `+`/`-` modifiers, `explicit` false when only modifiers were given (httpd's OPT_UNSET).
 */
export interface OptionsSetting {
  opts: OptionName[];
  add: OptionName[];
  remove: OptionName[];
  explicit: boolean;
  where: Where;
}

export type OverrideClass = "AuthConfig" | "FileInfo" | "Indexes" | "Limit" | "Options";

export interface AllowOverrideSetting {
  classes: OverrideClass[];
  /** `Options=a,b`: which options .htaccess may set; undefined: all. */
  options?: OptionName[];
  nonfatal: ("Override" | "Unknown" | "All")[];
  where: Where;
}

export interface RequireLine {
  readonly kind: "require";
  readonly negated: boolean;
  /** all, valid-user, user, group, ip, host, local, env, method, wsgi-group, expr */
  readonly provider: string;
  readonly args: readonly string[];
  /** `Require expr`: the expression, parsed when the line was read. */
  readonly expr?: Expr;
  /** Inside <Limit>/<LimitExcept>: the methods the line applies to. */
  readonly limit?: MethodLimit;
  readonly where: Where;
}

export interface AuthzContainer {
  readonly kind: "all" | "any" | "none";
  readonly items: AuthzItem[];
  readonly where: Where;
}

export type AuthzItem = RequireLine | AuthzContainer;

export type EnvOp =
  | { readonly op: "set"; readonly name: string; readonly value: string; readonly where: Where }
  | { readonly op: "unset"; readonly name: string; readonly where: Where }
  | { readonly op: "pass"; readonly name: string; readonly where: Where };

export interface SetEnvIfRule {
  /** Request attribute: a header name, Remote_Addr, Request_URI, ... */
  readonly attribute: string;
  readonly pattern: string;
  readonly compiled: ConfigRegex;
  /** The pattern has no regex syntax (mod_setenvif's non_regex_pattern): values keep `$N` as written. */
  readonly plain: boolean;
  /** The attribute, when it is a regex over header names (not a plain name), compiled case-insensitively. */
  readonly nameRegex?: ConfigRegex;
  /** `name`, `name=value`, `!name`; byte strings (the environ's form). */
  readonly assignments: readonly string[];
  /** SetEnvIfExpr: the condition (attribute and pattern are then unused). */
  readonly expr?: Expr;
  /**
   * Set outside any section: httpd runs these in post_read_request, before the URL-path is
   * decoded, so their Request_URI is the path as sent (`%C3%A9` stays as it is).
   */
  readonly early: boolean;
  readonly where: Where;
}

/** RewriteRule and RewriteCond lines as parsed once, when read (src/config/rewrite-rule.ts). */
export type { RewriteCondition, RewriteRule } from "./rewrite-rule";

export type RewriteOption = "Inherit" | "InheritBefore" | "InheritDown" | "InheritDownBefore" | "IgnoreInherit" | "AllowNoSlash" | "AllowAnyURI" | "MergeBase" | "LongURLOptimization" | "LegacyPrefixDocRoot";

/** mod_rewrite's config, per server or per directory. Undefined fields: not set here. */
export interface RewriteConfig {
  engine?: boolean;
  options?: RewriteOption[];
  /** RewriteBase (per-directory only). */
  base?: string;
  /**
   * The per-directory prefix of rules from a section that is not a directory: `*If` for
   * <If>/<ElseIf>/<Else> (IF_REWRITE_DIRECTORY), as httpd, whose rules there match (and relative
   * substitutions land under) that pseudo-directory. Unset: the <Directory> or .htaccess the rules are in.
   */
  directory?: string;
  rules: RewriteRule[];
  /** RewriteCond lines not yet followed by a RewriteRule while parsing. */
  pendingConditions: RewriteCondition[];
}

export interface RewriteMapDef {
  readonly name: string;
  readonly type: string;
  readonly source: string;
  readonly where: Where;
}

export interface HeaderDirective {
  readonly directive: "Header" | "RequestHeader";
  readonly condition?: "onsuccess" | "always";
  readonly action: string;
  readonly header: string;
  /** A byte string (the configuration's bytes); for edit / edit* the pattern as written. */
  readonly value?: string;
  /** edit / edit*: `value` compiled as every configuration regex is (over byte strings). */
  readonly compiled?: ConfigRegex;
  /** edit / edit*: a byte string. */
  readonly replacement?: string;
  readonly extra?: string;
  /** `expr=...`: the rule applies when the expression is true. */
  readonly expr?: Expr;
  /** A value written `expr=...`: a string-valued expression, evaluated per request. */
  readonly valueExpr?: StringExpr;
  readonly where: Where;
}

export interface Setting<T> {
  readonly value: T;
  readonly where: Where;
}

/**
 * Settings that httpd keeps per directory. Every field is optional: undefined means "not set
 * in this section"; `mergeDirSettings` applies each directive's own merge rule.
 */
export interface DirSettings {
  options?: OptionsSetting;
  allowOverride?: AllowOverrideSetting;
  allowOverrideList?: Setting<string[]>;
  /** SetHandler; value "none" clears a handler set further out. */
  handler?: Setting<string>;
  /** AddHandler/RemoveHandler: extension (lower-case, no dot) -> handler; "" = removed. */
  addHandlers?: Map<string, Setting<string>>;
  /** AddType/RemoveType: extension -> media type; "" = removed. */
  addTypes?: Map<string, Setting<string>>;
  addEncodings?: Map<string, Setting<string>>;
  addCharsets?: Map<string, Setting<string>>;
  /** AddLanguage: extension -> language tag (lower-case), for MultiViews. */
  addLanguages?: Map<string, Setting<string>>;
  /** ForceType: the media type of every file here; "none" clears an outer one. */
  forceType?: Setting<string>;
  multiviewsMatch?: Setting<"Any" | "NegotiatedOnly" | "Filters" | "Handlers" | "Filters Handlers">;
  /** LanguagePriority: the tie-breaking language order (as written; matched as prefixes, case-insensitively). */
  languagePriority?: Setting<readonly string[]>;
  /** ForceLanguagePriority: Prefer and/or Fallback, or None (neither). */
  forceLanguagePriority?: Setting<{ readonly prefer: boolean; readonly fallback: boolean }>;
  /** CacheNegotiatedDocs (server and virtual host): no `Expires` for HTTP/1.0 clients of a type map. */
  cacheNegotiatedDocs?: Setting<boolean>;
  /** DefaultLanguage: the language of files no extension gives one (as written: mod_mime keeps its case). */
  defaultLanguage?: Setting<string>;
  /** SetEnv/UnsetEnv/PassEnv in configuration order; apply in order. */
  env?: EnvOp[];
  setEnvIf?: SetEnvIfRule[];
  /** DirectoryIndex; an empty list for `DirectoryIndex disabled`. */
  directoryIndex?: Setting<string[]>;
  directorySlash?: Setting<boolean>;
  acceptPathInfo?: Setting<"on" | "off" | "default">;
  errorDocuments?: Map<number, Setting<string>>;
  /** FileETag as httpd keeps it per section (bits and +/- adjustments), merged down by mergeFileETag. */
  fileETag?: Setting<FileETagBits>;
  limitRequestBody?: Setting<number>;
  authType?: Setting<"Basic" | "Digest" | "None">;
  authName?: Setting<string>;
  authUserFile?: Setting<string>;
  /** AuthGroupFile (mod_authz_groupfile), for `Require group`. */
  authGroupFile?: Setting<string>;
  authBasicProvider?: Setting<string[]>;
  /**
   * mod_auth_digest's AuthDigestProvider, AuthDigestNonceLifetime, AuthDigestNcCheck and
   * AuthDigestDomain, as one object: httpd does not merge them, so a section that sets any of
   * them replaces the inherited ones (the rest back to their defaults).
   */
  authDigest?: Setting<DigestSettings>;
  authMerging?: Setting<"Off" | "And" | "Or">;
  /** The Require lines (an implicit RequireAny at the top). Replaced by a child's unless AuthMerging. */
  authz?: AuthzContainer;
  /** Order/Allow/Deny/Satisfy (mod_access_compat): a section's replace the inherited ones wholesale. */
  accessCompat?: AccessCompat;
  rewrite?: RewriteConfig;
  redirects?: RedirectDirective[];
  /** The location-wide `Redirect [status] URL` of a section (URL a string expression; none for a bare non-3xx status). */
  locationRedirect?: Setting<{ readonly status: number; readonly url?: StringExpr }>;
  headers?: HeaderDirective[];
  handlerScripts?: Map<string, HandlerScript>;
  // mod_wsgi
  processGroup?: Setting<string>;
  applicationGroup?: Setting<string>;
  callableObject?: Setting<string>;
  passAuthorization?: Setting<boolean>;
  scriptReloading?: Setting<boolean>;
  chunkedRequest?: Setting<boolean>;
  trustedProxies?: Setting<string[]>;
  trustedProxyHeaders?: Setting<string[]>;
  mapHeadToGet?: Setting<"on" | "off" | "auto">;
  errorOverride?: Setting<boolean>;
  enableSendfile?: Setting<boolean>;
  ignoreActivity?: Setting<boolean>;
  restrictProcess?: Setting<string[]>;
  /** WSGIAccessScript: allow_access(environ, host), in the access checker phase. */
  wsgiAccessScript?: Setting<HookScript>;
  /** WSGIAuthUserScript: check_password(environ, user, password), the `wsgi` Basic provider. */
  wsgiAuthUserScript?: Setting<HookScript>;
  /** WSGIAuthGroupScript: groups_for_user(environ, user), for `Require wsgi-group`. */
  wsgiAuthGroupScript?: Setting<HookScript>;
  /** WSGIGroupAuthoritative: parsed and kept; on httpd 2.4 mod_wsgi never consults it. */
  wsgiGroupAuthoritative?: Setting<boolean>;
  /** WSGIDispatchScript: process_group/application_group/callable_object(environ) overrides. */
  wsgiDispatchScript?: Setting<HookScript>;
  // core, per directory
  /** UseCanonicalName: where SERVER_NAME/SERVER_PORT come from (Host header, ServerName, local address). */
  useCanonicalName?: Setting<"on" | "off" | "dns">;
  /** AddDefaultCharset: the charset added to text/plain and text/html responses; "" = Off. */
  addDefaultCharset?: Setting<string>;
  /** ServerSignature: the footer of generated pages and SERVER_SIGNATURE. */
  serverSignature?: Setting<"on" | "off" | "email">;
  /**
   * <If>/<ElseIf>/<Else> sections of this scope and the scopes merged into it, in order
   * (httpd's sec_if): evaluated per request after every other section is merged.
   */
  ifSections?: IfSection[];
}

/** One <If>, <ElseIf> or <Else> section: its condition (none for <Else>) and its settings. */
export interface IfSection {
  readonly kind: "If" | "ElseIf" | "Else";
  readonly expr?: Expr;
  readonly settings: DirSettings;
  readonly where: Where;
  /**
   * At server or virtual host level, or in a <Location>/<LocationMatch> (at any depth of <If>):
   * httpd evaluates it in each of its walks of a request, not only the last (see if-sections.ts).
   */
  readonly early?: true;
}

export type SectionKind = "Directory" | "DirectoryMatch" | "Location" | "LocationMatch" | "Files" | "FilesMatch";

export interface Section {
  readonly kind: SectionKind;
  /** True for *Match and the `~` forms. */
  readonly isRegex: boolean;
  /** As written (for Directory: a non-regex path gets a trailing `/`, as httpd does). */
  readonly pattern: string;
  readonly compiled?: ConfigRegex;
  /** Non-regex pattern containing `*`, `?` or `[`: fnmatch semantics. */
  readonly hasWildcards: boolean;
  readonly settings: DirSettings;
  /** `<Files>` sections nested in this `<Directory>`, in order. */
  readonly files: Section[];
  readonly where: Where;
}

export interface VirtualHostAddress {
  /** `*`, `_default_`, an IP or a name. */
  readonly host: string;
  /** Undefined or `*`: any port. */
  readonly port?: number | "*";
}

export interface CustomLog {
  /** Path (ServerRoot-relative resolved), or `|command`. */
  readonly target: string;
  /** The format string (a nickname is resolved when LogFormat defined it before, else kept). */
  readonly format: string;
  readonly condition?: string;
  /** `expr=...`: the condition, parsed. */
  readonly conditionExpr?: Expr;
  readonly where: Where;
}

export interface HostConfig {
  /** Undefined for the main server. */
  readonly where?: Where;
  serverName?: Setting<string>;
  serverAliases: string[];
  addresses: VirtualHostAddress[];
  documentRoot?: Setting<string>;
  aliases: AliasDirective[];
  redirects: RedirectDirective[];
  handlerScripts: Map<string, HandlerScript>;
  /** Server-context mod_rewrite (rules outside any section). */
  rewrite: RewriteConfig;
  rewriteMaps: Map<string, RewriteMapDef>;
  /** Directory/DirectoryMatch/Location/LocationMatch/Files/FilesMatch in configuration order. */
  sections: Section[];
  /** Per-directory directives given at server/vhost level (httpd's "server's dir config"). */
  dir: DirSettings;
  errorLog?: Setting<string>;
  logLevel?: Setting<LogLevel>;
  customLogs: CustomLog[];
  logFormats: Map<string, string>;
  timeout?: Setting<number>;
  /** RequestReadTimeout header= and body= as given here (absent: the main server's, else mod_reqtimeout's defaults). */
  readTimeoutHeader?: Setting<ReadTimeoutStage>;
  readTimeoutBody?: Setting<ReadTimeoutStage>;
  keepAlive?: Setting<boolean>;
  keepAliveTimeout?: Setting<number>;
  maxKeepAliveRequests?: Setting<number>;
  limitRequestLine?: Setting<number>;
  limitRequestFieldSize?: Setting<number>;
  limitRequestFields?: Setting<number>;
  allowEncodedSlashes?: Setting<"on" | "off" | "nodecode">;
  accessFileName?: Setting<string[]>;
  /** ServerAdmin: SERVER_ADMIN and the address on error pages; a virtual host inherits the main server's. */
  serverAdmin?: Setting<string>;
  /** TraceEnable; unset is On, as httpd. */
  traceEnable?: Setting<"on" | "off" | "extended">;
  /** MergeSlashes; unset is On (httpd 2.4.39+). */
  mergeSlashes?: Setting<boolean>;
}

export interface ServerConfig {
  /** The main file first, then every included file, in reading order. */
  files: string[];
  serverRoot: string;
  defines: Map<string, string>;
  listen: ListenAddress[];
  /** PidFile, resolved against ServerRoot (where: see config.main / notices). */
  pidFile?: string;
  /** The main server's ErrorLog target (path, `|command` or `syslog...`); with `where` on `main.errorLog`. */
  errorLog?: string;
  /** GracefulShutdownTimeout in milliseconds; undefined: the server's own default. */
  shutdownTimeoutMs?: number;
  logLevel: LogLevel;
  /** `LogLevel ... module:level` entries (server level), module names lower-case. */
  moduleLogLevels: Map<string, LogLevel>;
  daemonProcesses: Map<string, DaemonProcessSpec>;
  importScripts: ImportScript[];
  restrictEmbedded: boolean;
  socketPrefix?: Setting<string>;
  /** AuthDigestShmemSize: bytes for the clients mod_auth_digest tracks (the last one given, wherever). */
  authDigestShmemSize?: Setting<number>;
  /** ServerTokens (server config only): how much the server banner says; unset is Full. */
  serverTokens?: Setting<"Prod" | "Major" | "Minor" | "Min" | "OS" | "Full">;
  main: HostConfig;
  virtualHosts: HostConfig[];
  /** One-line notices (directives accepted but without effect, ...): the CLI prints them. */
  notices: string[];
}

/** LimitRequestBody when none is configured: 1 GiB, as httpd since 2.4.54 (CVE-2022-29404). */
export const DEFAULT_LIMIT_REQUEST_BODY = 1 << 30;

/** The per-directory prefix httpd gives mod_rewrite directives inside <If>/<ElseIf>/<Else>. */
export const IF_REWRITE_DIRECTORY = "*If";

export function emptyRewrite(): RewriteConfig {
  return { rules: [], pendingConditions: [] };
}

export function emptyHost(where?: Where): HostConfig {
  return {
    ...(where ? { where } : {}),
    serverAliases: [],
    addresses: [],
    aliases: [],
    redirects: [],
    handlerScripts: new Map(),
    rewrite: emptyRewrite(),
    rewriteMaps: new Map(),
    sections: [],
    dir: {},
    customLogs: [],
    logFormats: new Map(),
  };
}

const BUILTIN: Where = { file: "(built-in default)", line: 0 };

/**
 * httpd's settings before any configuration: the base the mapper merges sections onto.
 * (httpd 2.4's default Options is FollowSymLinks, not explicitly set.)
 */
export function defaultDirSettings(): DirSettings {
  return {
    options: { opts: ["FollowSymLinks"], add: [], remove: [], explicit: false, where: BUILTIN },
  };
}

/** httpd core's Options merge (merge_core_dir_configs). */
export function mergeOptions(base: OptionsSetting | undefined, add: OptionsSetting | undefined): OptionsSetting | undefined {
  if (!add) return base;
  if (!base || add.explicit) return { ...add, opts: [...add.opts], add: [...add.add], remove: [...add.remove] };
  const addSet = union(minus(base.add, add.remove), add.add);
  const removeSet = union(minus(base.remove, add.add), add.remove);
  return { opts: union(minus(base.opts, removeSet), addSet), add: addSet, remove: removeSet, explicit: base.explicit, where: add.where };
}

/** The options in force for a merged DirSettings. */
export function effectiveOptions(dir: DirSettings): Set<OptionName> {
  return new Set(dir.options?.opts ?? []);
}

/** mod_rewrite's per-directory merge (merge_rewrite_dir_configs). */
export function mergeRewrite(base: RewriteConfig | undefined, add: RewriteConfig | undefined): RewriteConfig | undefined {
  if (!add) return base;
  if (!base) return add;
  const options = add.options ?? base.options;
  const merged: RewriteConfig = { rules: add.rules, pendingConditions: [] };
  const engine = add.engine ?? base.engine;
  if (engine !== undefined) merged.engine = engine;
  if (options) merged.options = options;
  // A section with rewrite directives of its own keeps the base's RewriteBase only under MergeBase.
  const rb = add.base ?? (options?.includes("MergeBase") ? base.base : undefined);
  if (rb !== undefined) merged.base = rb;
  // The directory is always the overriding section's (config_perdir_merge).
  if (add.directory !== undefined) merged.directory = add.directory;
  merged.rules = inheritRules(base, add.rules, options);
  return merged;
}

/**
 * mod_rewrite's server merge (config_server_merge): a virtual host's server-context rewrite
 * over the main server's. RewriteEngine and RewriteOptions are inherited when the host does
 * not set them; the main server's rules only under Inherit/InheritBefore (or the main
 * server's InheritDown/InheritDownBefore).
 */
export function mergeServerRewrite(main: RewriteConfig, host: RewriteConfig): RewriteConfig {
  const options = host.options ?? main.options;
  const merged: RewriteConfig = { rules: inheritRules(main, host.rules, options), pendingConditions: [] };
  const engine = host.engine ?? main.engine;
  if (engine !== undefined) merged.engine = engine;
  if (options) merged.options = options;
  return merged;
}

/**
 * The RewriteMaps a virtual host sees, by the same merge: the main server's only when the host
 * inherits its rules; a name defined in both is the host's under Inherit, the main server's
 * under InheritBefore (later entries win).
 */
export function mergeServerRewriteMaps(main: HostConfig, host: HostConfig): RewriteMapDef[] {
  const own = [...host.rewriteMaps.values()];
  const inherited = [...main.rewriteMaps.values()];
  switch (rewriteInheritance(main.rewrite, host.rewrite.options ?? main.rewrite.options)) {
    case "after":
      return [...inherited, ...own];
    case "before":
      return [...own, ...inherited];
    default:
      return own;
  }
}

/**
 * Whether a context with `options` inherits its base's rules (and, between servers, its
 * RewriteMaps): after its own (Inherit, or the base's InheritDown), before them
 * (InheritBefore, InheritDownBefore), or not at all.
 */
function rewriteInheritance(base: RewriteConfig, options: readonly RewriteOption[] | undefined): "after" | "before" | null {
  const down = !(options?.includes("IgnoreInherit") ?? false);
  if (options?.includes("Inherit") || (down && base.options?.includes("InheritDown"))) return "after";
  if (options?.includes("InheritBefore") || (down && base.options?.includes("InheritDownBefore"))) return "before";
  return null;
}

/** The rules of a merged rewrite config: `rules` with the base's after or before them, or alone. */
/** Inherited rule lists by own rules, then base rules: one array per pair (see inheritRules). */
const inheritedRules = new WeakMap<RewriteRule[], WeakMap<RewriteRule[], { after?: RewriteRule[]; before?: RewriteRule[] }>>();

function inheritRules(base: RewriteConfig, rules: RewriteRule[], options: readonly RewriteOption[] | undefined): RewriteRule[] {
  const inherit = rewriteInheritance(base, options);
  if (inherit === null || base.rules.length === 0) return rules;
  // The same pair gives the same array: <If> sections are merged per request, and the compiled
  // per-directory rules are cached by their rule list (src/map/host-tables.ts).
  let byBase = inheritedRules.get(rules);
  if (byBase === undefined) inheritedRules.set(rules, (byBase = new WeakMap()));
  let pair = byBase.get(base.rules);
  if (pair === undefined) byBase.set(base.rules, (pair = {}));
  return (pair[inherit] ??= inherit === "after" ? [...rules, ...base.rules] : [...base.rules, ...rules]);
}

function mergeMap<K, V>(base: Map<K, V> | undefined, add: Map<K, V> | undefined): Map<K, V> | undefined {
  if (!add) return base;
  if (!base) return add;
  const m = new Map(base);
  for (const [k, v] of add) m.set(k, v);
  return m;
}

function concat<T>(base: T[] | undefined, add: T[] | undefined): T[] | undefined {
  if (!add) return base;
  if (!base) return add;
  return [...base, ...add];
}

function mergeAuthz(base: DirSettings, add: DirSettings): AuthzContainer | undefined {
  if (!add.authz) return base.authz;
  if (!base.authz) return add.authz;
  const how = add.authMerging?.value ?? "Off";
  if (how === "Off") return add.authz;
  return { kind: how === "And" ? "all" : "any", items: [base.authz, add.authz], where: add.authz.where };
}

/**
 * Merge a more specific section's settings (`add`) onto the settings in force (`base`), by
 * each directive's rule in httpd: most settings replace; AddHandler/AddType/ErrorDocument
 * are per-key; SetEnv and friends accumulate; Options merges +/-; Require replaces unless
 * AuthMerging; mod_rewrite follows RewriteOptions. Neither argument is modified.
 */
export function mergeDirSettings(base: DirSettings, add: DirSettings): DirSettings {
  const out: DirSettings = { ...base };
  for (const key of Object.keys(add) as (keyof DirSettings)[]) {
    if (add[key] !== undefined) (out as Record<string, unknown>)[key] = add[key];
  }
  const set = <K extends keyof DirSettings>(k: K, v: DirSettings[K]) => {
    if (v === undefined) delete out[k];
    else out[k] = v;
  };
  set("options", mergeOptions(base.options, add.options));
  set("addHandlers", mergeMap(base.addHandlers, add.addHandlers));
  set("addTypes", mergeMap(base.addTypes, add.addTypes));
  set("addEncodings", mergeMap(base.addEncodings, add.addEncodings));
  set("addCharsets", mergeMap(base.addCharsets, add.addCharsets));
  set("addLanguages", mergeMap(base.addLanguages, add.addLanguages));
  if (add.fileETag) set("fileETag", { value: mergeFileETag(base.fileETag?.value, add.fileETag.value)!, where: add.fileETag.where });
  set("errorDocuments", mergeMap(base.errorDocuments, add.errorDocuments));
  set("handlerScripts", mergeMap(base.handlerScripts, add.handlerScripts));
  set("env", concat(base.env, add.env));
  set("setEnvIf", concat(base.setEnvIf, add.setEnvIf));
  set("headers", concat(base.headers, add.headers));
  set("redirects", concat(add.redirects, base.redirects));
  set("authz", mergeAuthz(base, add));
  set("rewrite", mergeRewrite(base.rewrite, add.rewrite));
  set("ifSections", concat(base.ifSections, add.ifSections));
  return out;
}

/** Apply SetEnv/UnsetEnv/PassEnv in order: the variables a request gets. */
export function resolveEnv(ops: readonly EnvOp[] | undefined, processEnv: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const vars = new Map<string, string>();
  for (const op of ops ?? []) {
    // Values are byte strings, as the environ holds them: the configuration's UTF-8 bytes.
    if (op.op === "set") vars.set(op.name, toByteString(op.value));
    else if (op.op === "unset") vars.delete(op.name);
    else {
      const v = processEnv[op.name];
      if (v !== undefined) vars.set(op.name, toByteString(v));
    }
  }
  return vars;
}

function minus<T>(a: readonly T[], b: readonly T[]): T[] {
  return a.filter((x) => !b.includes(x));
}

function union<T>(a: readonly T[], b: readonly T[]): T[] {
  return [...a, ...b.filter((x) => !a.includes(x))];
}
