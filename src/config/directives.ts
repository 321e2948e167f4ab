/**
 * THE directive table: one entry per directive nodewsgi knows, driving parsing (arity,
 * contexts, AllowOverride), validation and storage (`apply`), and the generated docs
 * (docs/directives/, scripts/gen-directive-docs.js). Semantics follow httpd 2.4 and mod_wsgi.
 */
import { parseHeaderFormat } from "../http/header-format";
import * as path from "node:path";
import { isLogLevel, type LogLevel } from "../log/error-log";
import { badArgs, badValue, DirectiveProblem, type Where } from "./errors";
import {
  emptyRewrite,
  mergeOptions,
  type AuthzContainer,
  type DaemonProcessSpec,
  type DirSettings,
  type HookScript,
  type HostConfig,
  type OptionName,
  type OverrideClass,
  type RedirectDirective,
  type RewriteConfig,
  type RewriteOption,
  type SectionKind,
  type ServerConfig,
  type Setting,
  type WsgiScriptOptions,
} from "./model";
import { applyFileETag } from "./file-etag";
import { emptyAccessCompat, parseHostRule, type AccessCompat } from "../auth/access-compat";
import { MAX_SHMEM_SIZE, MIN_SHMEM_SIZE, defaultDigestSettings, strtol, type DigestSettings } from "../auth/digest";
import type { MethodLimit } from "../auth/method-limit";
import { compileConfigRegex, type ConfigRegex } from "./regex";
import { parseRewriteCond, parseRewriteRule } from "./rewrite-rule";
import { parseExpr, parseStringExpr, ExprError, type Expr, type StringExpr } from "./expr";
import { isHeaderNameRegex, isPlainPattern } from "../map/setenvif";
import { toByteString } from "../engine/byte-string";
import { parseReadTimeoutParam, type ReadTimeoutParams } from "./request-read-timeout";
import { checkGroupExpression, isAddressSpec, parseChoice, parseFlag, parseInteger, parseNumber } from "./values";

/** Where a directive may appear: httpd's RSRC_CONF split in two, ACCESS_CONF, and .htaccess. */
export type Context = "server" | "virtualhost" | "directory" | "htaccess";

export interface ApplyScope {
  readonly config: ServerConfig;
  /** The main server or the enclosing <VirtualHost>. */
  readonly host: HostConfig;
  /** Where per-directory settings go: the section's, the host's `dir`, or the .htaccess result. */
  readonly dir: DirSettings;
  readonly context: Context;
  /** The enclosing section kind when context is "directory". */
  readonly section?: SectionKind;
  readonly where: Where;
  /** The argument text before word splitting. */
  readonly rawArgs: string;
  /** The Require container being filled (an explicit <RequireAll/Any/None>), if any. */
  readonly authzContainer?: AuthzContainer;
  /** Inside <Limit>/<LimitExcept>: the methods access directives apply to. */
  readonly methodLimit?: MethodLimit;
  /** In .htaccess: the options `AllowOverride Options=...` permits (undefined: all). */
  readonly allowedOptions?: readonly OptionName[];
  notice(message: string): void;
  /** Resolve a path relative to ServerRoot, as httpd's ap_server_root_relative. */
  serverRelative(p: string): string;
  /** Like serverRelative, but keeps a trailing `/` (it matters to Alias targets). */
  targetPath(p: string): string;
}

export interface DirectiveSpec {
  readonly name: string;
  readonly module: string;
  /** Sections are opened by `<Name ...>` and handled by the loader. */
  readonly kind: "directive" | "section";
  readonly contexts: readonly Context[];
  /** What AllowOverride must grant to use it in .htaccess: one class, or any (httpd's OR_ALL). */
  readonly override?: OverrideRequirement;
  /** Allowed only in <Directory> (not <Location>/<Files>) among the directory contexts. */
  readonly directoryOnly?: boolean;
  readonly minArgs: number;
  readonly maxArgs: number;
  readonly syntax: string;
  readonly default?: string;
  readonly doc: string;
  /** implemented; ignored (accepted with a notice); unsupported (a configuration error). */
  readonly status: "implemented" | "ignored" | "unsupported";
  /** Split arguments with mod_wsgi's `name="quoted value"` rule instead of httpd's. */
  readonly wsgiWords?: boolean;
  /** Split arguments as mod_rewrite's parseargline does (`\\ ` keeps a space; backslashes stay). */
  readonly rewriteWords?: boolean;
  readonly apply?: (scope: ApplyScope, args: string[]) => void;
}

/**
 * The AllowOverride a directive needs in .htaccess: a class, or "Any" for httpd's OR_ALL
 * directives (ServerSignature, LimitRequestBody), which any class lets through.
 */
export type OverrideRequirement = OverrideClass | "Any";

/** Whether the classes AllowOverride granted let a directive needing `required` through. */
export function overrideAllows(required: OverrideRequirement | undefined, granted: readonly OverrideClass[]): boolean {
  if (required === undefined) return false;
  return required === "Any" ? granted.length > 0 : granted.includes(required);
}

/** How the requirement reads in messages and the directive reference. */
export function overrideLabel(required: OverrideRequirement): string {
  return required === "Any" ? "any class (AuthConfig, FileInfo, Indexes, Limit or Options)" : required;
}

const ALL: readonly Context[] = ["server", "virtualhost", "directory", "htaccess"];
const SV: readonly Context[] = ["server", "virtualhost"];
const SVD: readonly Context[] = ["server", "virtualhost", "directory"];
const S: readonly Context[] = ["server"];
const D: readonly Context[] = ["directory", "htaccess"];
const INF = Number.POSITIVE_INFINITY;

const table: DirectiveSpec[] = [];

type Spec = Omit<DirectiveSpec, "kind" | "status" | "module"> & Partial<Pick<DirectiveSpec, "kind" | "status" | "module">>;

let currentModule = "core";
function def(spec: Spec): void {
  table.push({ kind: "directive", status: "implemented", module: currentModule, ...spec });
}

/**
 * An `On|Off` directive (one argument; `NAME On|Off` in the docs): the parsed flag goes to
 * `store`. `notice`, for directives accepted without effect, is given wherever one is used.
 */
function flagDirective(
  spec: Omit<Spec, "minArgs" | "maxArgs" | "syntax" | "apply"> & { readonly default: "On" | "Off"; readonly notice?: string },
  store: (scope: ApplyScope, on: boolean) => void,
): void {
  const { notice, ...rest } = spec;
  def({
    ...rest,
    minArgs: 1,
    maxArgs: 1,
    syntax: `${spec.name} On|Off`,
    apply(scope, [s]) {
      if (notice !== undefined) scope.notice(notice);
      store(scope, parseFlag(s!, spec.name));
    },
  });
}

function setting<T>(scope: ApplyScope, value: T): Setting<T> {
  return { value, where: scope.where };
}

function regex(source: string, ci = false): ConfigRegex {
  try {
    return compileConfigRegex(source, ci);
  } catch (e) {
    throw new DirectiveProblem("E_CONFIG_REGEX", (e as Error).message);
  }
}

/** The rewrite config this directive belongs to: the host's in server context, else per-dir. */
function rewriteFor(scope: ApplyScope): RewriteConfig {
  if (scope.context === "server" || scope.context === "virtualhost") return scope.host.rewrite;
  return (scope.dir.rewrite ??= emptyRewrite());
}

function isServerLevel(scope: ApplyScope): boolean {
  return scope.context === "server" || scope.context === "virtualhost";
}

// ---------------------------------------------------------------------------------------------
// Sections (the loader opens them; the table gives contexts and docs)
// ---------------------------------------------------------------------------------------------

function section(name: string, contexts: readonly Context[], syntax: string, doc: string, minArgs = 1, maxArgs = 2, override?: OverrideRequirement): void {
  table.push({ name, module: currentModule, kind: "section", status: "implemented", contexts, minArgs, maxArgs, syntax, doc, ...(override ? { override } : {}) });
}

section("VirtualHost", S, "<VirtualHost addr[:port] [addr[:port]] ...> ... </VirtualHost>",
  "Groups directives that apply to one virtual host, chosen by the request's address and Host header (ServerName, ServerAlias). Anything not set inside falls back to the main server's setting.", 1, INF);
section("Directory", SV, "<Directory directory-path> ... </Directory>  or  <Directory ~ regex>",
  "Directives that apply to a filesystem directory and everything below it. Non-regex sections are merged shortest path first, then regex sections (`~` form and <DirectoryMatch>) in configuration order. Wildcards `*`, `?` and `[]` match within one path segment.");
section("DirectoryMatch", SV, "<DirectoryMatch regex> ... </DirectoryMatch>",
  "Like <Directory ~ regex>: a PCRE-syntax regular expression matched against directory paths. Invalid regexes are reported at configuration time with file and line.", 1, 1);
section("Location", SV, "<Location URL-path> ... </Location>  or  <Location ~ regex>",
  "Directives that apply to a URL path and everything below it, merged after <Directory> and <Files> sections, in configuration order. A prefix matches at segment boundaries as httpd does.");
section("LocationMatch", SV, "<LocationMatch regex> ... </LocationMatch>",
  "Like <Location ~ regex>: a PCRE-syntax regular expression matched against the URL path.", 1, 1);
section("Files", ["server", "virtualhost", "directory", "htaccess"], "<Files filename> ... </Files>  or  <Files ~ regex>",
  "Directives that apply to files by name (the last path component), wherever they are. May be nested in <Directory> or used in .htaccess; not in <Location>.");
section("FilesMatch", ["server", "virtualhost", "directory", "htaccess"], "<FilesMatch regex> ... </FilesMatch>",
  "Like <Files ~ regex>: a PCRE-syntax regular expression matched against the file name.", 1, 1);
section("IfModule", ALL, "<IfModule [!]module-file-or-name> ... </IfModule>",
  "Includes its contents only when the module is (or with `!`, is not) present. nodewsgi reports as present the modules it implements: mod_wsgi, core, mod_alias, mod_rewrite, mod_mime, mod_dir, mod_env, mod_setenvif, mod_headers, mod_log_config, mod_negotiation, mod_autoindex, mod_auth_basic, mod_authn_file, mod_authn_core, mod_auth_digest, mod_authz_core, mod_authz_host, mod_authz_user, mod_authz_groupfile and mod_access_compat. Both spellings work: `mod_wsgi.c` and `wsgi_module`.", 1, 1);
section("IfDefine", ALL, "<IfDefine [!]parameter-name> ... </IfDefine>",
  "Includes its contents only when the parameter is (or with `!`, is not) defined, by `-D NAME` on the command line or a `Define` directive read before it.", 1, 1);
section("Limit", D, "<Limit method [method] ...> ... </Limit>",
  "Restricts the access directives inside (Require, and mod_access_compat's Order, Allow, Deny and Satisfy) to the listed methods; others inside apply to every method. HEAD counts as GET; method names are case-sensitive; TRACE cannot be listed (see TraceEnable). Sections such as <Files> are not allowed inside. A nested <Limit> must narrow the methods. In .htaccess it needs AllowOverride Limit or AuthConfig (and what it contains, its own class), and only httpd's built-in methods may be named.", 1, INF);
section("LimitExcept", D, "<LimitExcept method [method] ...> ... </LimitExcept>",
  "Like <Limit>, for every method except the listed ones (including methods unknown to httpd).", 1, INF);

section("If", ALL, "<If \"expression\"> ... </If>",
  "Directives that apply when an httpd expression (ap_expr: `%{VAR}`, comparisons, `=~`, `-ipmatch`, functions ...) is true for the request. Evaluated per request after <Directory>, <Files> and <Location> sections are merged, and merged over them; may be nested in those sections, in a <VirtualHost>, in another <If> and in .htaccess (with any AllowOverride class). <Directory>, <Location> and <VirtualHost> sections are not allowed inside; <Files> and <FilesMatch> are accepted and have no effect, as in httpd (a notice says so). mod_rewrite directives inside are per-directory, as in httpd: their directory is the pseudo-directory `*If` (patterns see the whole file path; RewriteBase maps `*If/` back to a URL), and they replace the enclosing section's rules unless RewriteOptions Inherit. The <If> sections at server or virtual host level and in <Location> are also merged, with no file mapped yet, before the URL is translated, as httpd does: a RewriteEngine there switches the server-context rules too. A malformed expression is a configuration error. See [configuration.md](../configuration.md#expressions-if-and-require-expr) for the variables and functions.", 1, INF, "Any");
section("ElseIf", ALL, "<ElseIf \"expression\"> ... </ElseIf>",
  "Directives that apply when the preceding <If> or <ElseIf> in the same scope did not apply and this expression is true.", 1, INF, "Any");
section("Else", ALL, "<Else> ... </Else>",
  "Directives that apply when the preceding <If> or <ElseIf> in the same scope did not apply.", 0, INF, "Any");

currentModule = "mod_authz_core";
section("RequireAll", D, "<RequireAll> Require ... </RequireAll>",
  "Authorization succeeds only if every enclosed Require line (or nested container) succeeds and none fails.", 0, 0);
section("RequireAny", D, "<RequireAny> Require ... </RequireAny>",
  "Authorization succeeds if any enclosed Require line succeeds. This is also how several Require lines directly in a section combine. Negated lines are not allowed here.", 0, 0);
section("RequireNone", D, "<RequireNone> Require ... </RequireNone>",
  "Authorization fails if any enclosed Require line succeeds; it never grants access on its own, so use it inside <RequireAll>.", 0, 0);

// ---------------------------------------------------------------------------------------------
// core
// ---------------------------------------------------------------------------------------------
currentModule = "core";

def({
  name: "Include", contexts: SVD, minArgs: 1, maxArgs: 1, syntax: "Include file-path|directory-path|wildcard",
  doc: "Reads another configuration file (or every file in a directory, or every file matching a wildcard, in alphabetical order) as if it were written here. Relative paths are relative to ServerRoot; when ServerRoot is not set, that is the directory of the main configuration file. A wildcard that matches nothing is an error; use IncludeOptional to allow that.",
});
def({
  name: "IncludeOptional", contexts: SVD, minArgs: 1, maxArgs: 1, syntax: "IncludeOptional file-path|directory-path|wildcard",
  doc: "Like Include, but a path or wildcard that matches no file is silently ignored.",
});
def({
  name: "Define", contexts: S, minArgs: 1, maxArgs: 2, syntax: "Define parameter-name [value]",
  doc: "Defines a parameter for <IfDefine> and for `${name}` substitution in later lines, like `-D name` on the command line. Without a value, `${name}` is left as written.",
  apply(scope, [name, value]) {
    if (name!.includes(":")) throw badValue(`the name '${name}' must not contain ':'`);
    scope.config.defines.set(name!, value ?? "");
  },
});
def({
  name: "UnDefine", contexts: S, minArgs: 1, maxArgs: 1, syntax: "UnDefine parameter-name",
  doc: "Removes a parameter defined by Define or `-D`.",
  apply(scope, [name]) {
    scope.config.defines.delete(name!);
  },
});
def({
  name: "ServerRoot", contexts: S, minArgs: 1, maxArgs: 1, syntax: "ServerRoot directory-path", default: "directory of the main configuration file",
  doc: "The base directory for relative paths in Include, ErrorLog, PidFile, CustomLog, DocumentRoot, AuthUserFile, <Directory>, and (a nodewsgi extension: httpd requires absolute paths there) the targets of Alias, AliasMatch, WSGIScriptAlias*, WSGIHandlerScript, WSGIImportScript and the hook scripts (WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript, WSGIDispatchScript). httpd's default is its compiled-in prefix; nodewsgi's is the directory that holds the main configuration file. Takes effect for the lines after it.",
  apply(scope, [p]) {
    scope.config.serverRoot = path.resolve(scope.config.serverRoot, p!);
  },
});
def({
  name: "Listen", contexts: S, minArgs: 1, maxArgs: 2, syntax: "Listen [IP-address:]port [protocol]",
  doc: "An address and port to accept connections on; repeat for several. `Listen 8080` listens on all interfaces, `Listen 127.0.0.1:8080` on one, `Listen [::1]:8080` on an IPv6 address. Listening twice on the same address is an error. Unlike Apache, port 0 is accepted: the system picks a free port and `serve` prints it (for tests and tools).",
  apply(scope, [spec, proto]) {
    const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(spec!);
    if (!m) throw badValue(`'${spec}' is not [address:]port`);
    const port = parseInteger(m[3]!, "port", 0, 65535);
    const host = m[1] ?? m[2];
    if (proto !== undefined && !/^https?$/i.test(proto)) throw badValue(`unknown protocol '${proto}' (http or https)`);
    const dup = port === 0 ? undefined : scope.config.listen.find((l) => l.port === port && l.host === host);
    if (dup) throw badValue(`Cannot define multiple Listeners on the same IP:port (first at ${dup.where.file}:${dup.where.line})`);
    scope.config.listen.push({ ...(host !== undefined ? { host } : {}), port, where: scope.where });
  },
});
def({
  name: "ServerName", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "ServerName [scheme://]hostname[:port]",
  doc: "The host name (and port) the server uses to identify itself: SERVER_NAME, self-referential redirects, name-based virtual host selection, and mod_wsgi's default application group (`%{RESOURCE}` = `host[:port]|SCRIPT_NAME`).",
  apply(scope, [name]) {
    const m = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:[^\s/:[\]]+|\[[0-9a-f:.]+\])(?::(\d+))?$/i.exec(name!);
    if (!m) throw badValue(`'${name}' is not a host name`);
    // httpd refuses a port it could never be reached on, rather than reporting it.
    if (m[1] !== undefined && (Number(m[1]) < 1 || Number(m[1]) > 65535)) {
      throw badValue(`the port number "${m[1]}" is outside the appropriate range (i.e., 1..65535)`);
    }
    scope.host.serverName = setting(scope, name!);
  },
});
def({
  name: "ServerAlias", contexts: ["virtualhost"], minArgs: 1, maxArgs: INF, syntax: "ServerAlias hostname [hostname] ...",
  doc: "Other names (wildcards `*` and `?` allowed) under which a name-based virtual host answers.",
  apply(scope, names) {
    scope.host.serverAliases.push(...names);
  },
});
def({
  name: "DocumentRoot", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "DocumentRoot directory-path", default: "none",
  doc: "The directory URLs map to when no Alias, WSGIScriptAlias or rewrite rule claims them. Relative to ServerRoot when not absolute. A missing directory is reported as a notice, as httpd warns.",
  apply(scope, [p]) {
    const abs = scope.serverRelative(p!).replace(/(.)\/+$/, "$1");
    scope.host.documentRoot = setting(scope, abs);
  },
});
def({
  name: "PidFile", contexts: S, minArgs: 1, maxArgs: 1, syntax: "PidFile file-path", default: "none",
  doc: "The file the server writes its process id to. Relative to ServerRoot.",
  apply(scope, [p]) {
    scope.config.pidFile = scope.serverRelative(p!);
  },
});
def({
  name: "ErrorLog", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "ErrorLog file-path|syslog[:facility]|\"|command\"", default: "standard error",
  doc: "Where the error log goes: a file (relative to ServerRoot), or a piped command. Application output on `wsgi.errors`, uncaught exceptions and server messages are written here in httpd's format.",
  apply(scope, [p]) {
    const v = p!.startsWith("|") || p!.startsWith("syslog") ? p! : scope.serverRelative(p!);
    scope.host.errorLog = setting(scope, v);
    if (scope.context === "server") scope.config.errorLog = v;
  },
});
def({
  name: "LogLevel", contexts: SV, minArgs: 1, maxArgs: INF, syntax: "LogLevel level [module:level] ...", default: "warn",
  doc: "The least severe message written to the error log: emerg, alert, crit, error, warn, notice, info, debug (trace1 to trace8 count as debug). Per-module levels (`LogLevel warn wsgi:info`) set the level for that module's messages (server level only).",
  apply(scope, args) {
    let level: LogLevel | undefined;
    for (const a of args) {
      const m = /^(?:([\w.]+):)?(\w+)$/.exec(a);
      const l = m?.[2]?.toLowerCase() ?? "";
      const norm = /^trace[1-8]$/.test(l) ? "debug" : l;
      if (!m || !isLogLevel(norm)) throw badValue(`'${a}' is not a log level (emerg, alert, crit, error, warn, notice, info, debug, trace1-8)`);
      if (!m[1]) level = norm;
      else if (scope.context === "server") scope.config.moduleLogLevels.set(m[1].toLowerCase(), norm);
    }
    if (level) {
      scope.host.logLevel = setting(scope, level);
      if (scope.context === "server") scope.config.logLevel = level;
    }
  },
});
def({
  name: "Timeout", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "Timeout seconds", default: "60",
  doc: "How long a request body may stop arriving before it is answered 408 (the connection is then closed), (as mod_wsgi's socket-timeout default) how long a daemon process may take to answer, and how long a hook script (WSGIAuthUserScript, WSGIAuthGroupScript, WSGIAccessScript, WSGIDispatchScript) may take before it counts as failed. For these the main server's value applies to every virtual host. It is also httpd's send timeout: a connection whose response the client takes nothing of for that long is closed (`Timeout 0`: never here; httpd's 0 cuts such a connection at once, see differences.md), with the request's virtual host's value (as httpd; one without its own has the main server's); the clock runs only while part of the response waits for the client, so a slow application is not timed by it. The front ends' own idle timeouts bound a client that sends nothing (about 10 s for uWS; on node:http, RequestReadTimeout header= for a request head, 20 s by default) and, on uWS, one that reads nothing of a response (about 10 s, when Timeout is longer).",
  apply(scope, [s]) {
    scope.host.timeout = setting(scope, parseInteger(s!, "Timeout", 0));
  },
});
def({
  name: "RequestReadTimeout", module: "mod_reqtimeout", contexts: SV, minArgs: 0, maxArgs: INF,
  syntax: "RequestReadTimeout [handshake=timeout[-maxtimeout][,MinRate=rate]] [header=timeout[-maxtimeout][,MinRate=rate]] [body=timeout[-maxtimeout][,MinRate=rate]]",
  default: "header=20-40,MinRate=500 body=20,MinRate=500 (mod_reqtimeout's defaults, in force without the directive, as with Debian's httpd, which loads the module by default)",
  doc: "How long a client may take to send its request head and its body: `timeout` seconds, extended by 1 s for every `rate` bytes received, up to `maxtimeout` (no limit without one); 0 turns a stage off. A body that does not arrive in time is answered 408 and the connection closed, before the application is called (for a daemon process group, whose application may already be reading the body, its read fails as a client gone away does); logged at info as `AH01382: Request body read timeout`. The idle Timeout between two pieces of the body applies as well: whichever comes first. A virtual host's body= replaces the main server's for its requests. A worker-thread group counts a request whose body is still arriving against no thread or queue place, but holds at most threads + queue such requests at once (503 beyond: each holds memory or a spool file). header= is the main server's for every connection: on the node:http front end the head gets the initial timeout (node times a head with one fixed value, so MinRate cannot extend it), then 408, and with header=0 the core Timeout as httpd's reads still have it; the uWS front end ignores header=: it closes a connection whose head is not complete within about 10 s, without a response (its fixed idle timeout, which a head arriving piece by piece does not restart). handshake= is accepted without effect: nodewsgi serves no TLS.",
  apply(scope, args) {
    const p: ReadTimeoutParams = {};
    for (const a of args) parseReadTimeoutParam(a, p);
    if (p.handshake) scope.notice("RequestReadTimeout: handshake= has no effect: nodewsgi serves no TLS");
    if (p.header) scope.host.readTimeoutHeader = setting(scope, p.header);
    if (p.body) scope.host.readTimeoutBody = setting(scope, p.body);
  },
});
def({
  name: "GracefulShutdownTimeout", contexts: S, minArgs: 1, maxArgs: 1, syntax: "GracefulShutdownTimeout seconds", default: "the server's own (10 seconds)",
  doc: "How long a graceful stop waits for requests in flight before closing connections; 0 waits as long as it takes.",
  apply(scope, [s]) {
    scope.config.shutdownTimeoutMs = parseInteger(s!, "GracefulShutdownTimeout", 0) * 1000;
  },
});
/** The keep-alive directives are the front end's, which serves every virtual host alike. */
function serverLevelOnly(scope: ApplyScope, name: string): void {
  if (scope.context === "virtualhost") scope.notice(`${name} in <VirtualHost> has no effect: set it at server level, where it applies to every connection`);
}
flagDirective({
  name: "KeepAlive", contexts: SV, default: "On",
  doc: "Whether a connection may carry more than one request: Off closes every connection after its response. Applies at server level (in a <VirtualHost>, accepted with a notice).",
}, (scope, on) => {
  serverLevelOnly(scope, "KeepAlive");
  scope.host.keepAlive = setting(scope, on);
});
def({
  name: "KeepAliveTimeout", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "KeepAliveTimeout num[ms]", default: "5",
  doc: "How long an idle persistent connection is kept open waiting for the next request, in seconds, or milliseconds with an `ms` suffix. Applies at server level, on the node:http front end (uWS keeps idle connections 10 s: see docs/front-ends.md).",
  apply(scope, [s]) {
    serverLevelOnly(scope, "KeepAliveTimeout");
    const ms = /^(\d+)ms$/i.exec(s!);
    scope.host.keepAliveTimeout = setting(scope, ms ? Number(ms[1]) / 1000 : parseInteger(s!, "KeepAliveTimeout", 0));
  },
});
def({
  name: "MaxKeepAliveRequests", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "MaxKeepAliveRequests number", default: "100",
  doc: "How many requests one persistent connection may carry; 0 means unlimited. Applies at server level, on the node:http front end (uWS cannot count a connection's requests: see docs/front-ends.md).",
  apply(scope, [s]) {
    serverLevelOnly(scope, "MaxKeepAliveRequests");
    scope.host.maxKeepAliveRequests = setting(scope, parseInteger(s!, "MaxKeepAliveRequests", 0));
  },
});
def({
  name: "Options", contexts: ALL, override: "Options", minArgs: 1, maxArgs: INF, syntax: "Options [+|-]option [[+|-]option] ...", default: "FollowSymLinks",
  doc: "Features enabled in a directory: None, All (everything but MultiViews), ExecCGI (needed to run scripts by SetHandler/AddHandler wsgi-script, not under WSGIScriptAlias), Indexes, MultiViews, FollowSymLinks, SymLinksIfOwnerMatch, Includes, IncludesNOEXEC. Options without `+`/`-` replace what is inherited; with `+`/`-` they adjust it. Mixing the two forms in one line is an error, as in httpd.",
  apply(scope, args) {
    const next = parseOptions(args, scope);
    scope.dir.options = mergeOptions(scope.dir.options, next);
  },
});
def({
  name: "AllowOverride", contexts: ["directory"], directoryOnly: true, minArgs: 1, maxArgs: INF,
  syntax: "AllowOverride All|None|directive-type [directive-type] ...", default: "None",
  doc: "Which directive classes an .htaccess file in this directory may use: AuthConfig, FileInfo, Indexes, Limit, Options[=option,...], or All / None. Only in <Directory> sections without regex, as in httpd; in <Location>, <Files> or <If> it is accepted without effect, with a notice (httpd's AH00114 warning), and so in <DirectoryMatch> and <Directory ~> (where httpd ignores it without a warning); its arguments are checked there all the same, as httpd checks them. `Nonfatal=Override|Unknown|All` turns .htaccess errors of that kind into log entries.",
  apply(scope, args) {
    const classes = new Set<OverrideClass>();
    let options: OptionName[] | undefined;
    const nonfatal: ("Override" | "Unknown" | "All")[] = [];
    for (const a of args) {
      const [k, v] = splitOnce(a, "=");
      const key = k.toLowerCase();
      if (key === "all") for (const c of OVERRIDE_CLASSES) classes.add(c);
      else if (key === "none") classes.clear();
      else if (key === "nonfatal") nonfatal.push(parseChoice(v ?? "", ["Override", "Unknown", "All"] as const, "Nonfatal"));
      else {
        const c = parseChoice(k, OVERRIDE_CLASSES, "AllowOverride");
        classes.add(c);
        if (c === "Options" && v !== undefined) options = v.split(",").map((o) => parseChoice(o, OPTION_NAMES, "Options="));
      }
    }
    scope.dir.allowOverride = { classes: [...classes], ...(options ? { options } : {}), nonfatal, where: scope.where };
  },
});
def({
  name: "AllowOverrideList", contexts: ["directory"], directoryOnly: true, minArgs: 1, maxArgs: INF,
  syntax: "AllowOverrideList None|directive [directive] ...", default: "None",
  doc: "Individual directives an .htaccess file may use in addition to those AllowOverride permits. Where AllowOverride is, in the same sections (in <Location>, <Files> or <If>: accepted without effect, with a notice, as httpd's AH00115 warning; in <DirectoryMatch> and <Directory ~>: the same, where httpd says nothing). A name that is no directive nodewsgi knows is left out with a notice, as httpd discards one it does not know (AH00116).",
  apply(scope, args) {
    const list: string[] = [];
    if (args.length !== 1 || args[0]!.toLowerCase() !== "none") {
      for (const a of args) {
        const d = findDirective(a);
        if (d !== undefined && d.kind === "directive") list.push(d.name);
        else scope.notice(`AllowOverrideList: discarding unrecognized directive \`${a}' (httpd: AH00116)`);
      }
    }
    scope.dir.allowOverrideList = setting(scope, list);
  },
});
def({
  name: "AccessFileName", contexts: SV, minArgs: 1, maxArgs: INF, syntax: "AccessFileName filename [filename] ...", default: ".htaccess",
  doc: "The name of the per-directory configuration files read in directories where AllowOverride permits them.",
  apply(scope, names) {
    scope.host.accessFileName = setting(scope, names);
  },
});
def({
  name: "AcceptPathInfo", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "AcceptPathInfo On|Off|Default", default: "Default",
  doc: "Whether a request may name a file followed by more path (PATH_INFO). Default lets the handler decide: static files refuse it with 404, WSGI scripts accept it.",
  apply(scope, [s]) {
    scope.dir.acceptPathInfo = setting(scope, parseChoice(s!, ["On", "Off", "Default"] as const).toLowerCase() as "on" | "off" | "default");
  },
});
def({
  name: "ServerAdmin", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "ServerAdmin email-address|URL", default: "none (\"[no address given]\")",
  doc: "The address shown to clients: SERVER_ADMIN in the environ (and mod_rewrite's `%{SERVER_ADMIN}`), the 500 error page, and the `ServerSignature EMail` footer. A virtual host without one uses the main server's.",
  apply(scope, [a]) {
    scope.host.serverAdmin = setting(scope, a!);
  },
});
def({
  name: "UseCanonicalName", contexts: SVD, minArgs: 1, maxArgs: 1, syntax: "UseCanonicalName On|Off|DNS", default: "Off",
  doc: "Where SERVER_NAME and SERVER_PORT (and self-referential redirects, mod_rewrite's `%{SERVER_NAME}`, the `ServerSignature` footer) come from. Off: the Host header, its port, else the port of ServerName, else the scheme's default. On: ServerName and its port (else the scheme's default), whatever the client sent. DNS: the local address the request arrived on (nodewsgi does no reverse lookup: the address itself) and the Host header's port. Virtual host selection always uses the Host header.",
  apply(scope, [s]) {
    scope.dir.useCanonicalName = setting(scope, parseChoice(s!, ["On", "Off", "DNS"] as const).toLowerCase() as "on" | "off" | "dns");
  },
});
def({
  name: "TraceEnable", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "TraceEnable On|Off|extended", default: "On",
  doc: "The TRACE method. On: any URL answers 200 with the request echoed as `message/http`, after server-level rewrites and redirects but before access control (as httpd, which answers TRACE in its map-to-storage phase); a request with a body is refused with 413. extended: the body is echoed too. Off: 405. nodewsgi rebuilds the echoed message from the parsed request: header names are lower-case and repeated headers are joined with `, ` under the first one's name.",
  apply(scope, [s]) {
    scope.host.traceEnable = setting(scope, parseChoice(s!, ["On", "Off", "extended"] as const).toLowerCase() as "on" | "off" | "extended");
  },
});
def({
  name: "MergeSlashes", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "MergeSlashes On|Off", default: "On",
  doc: "On: runs of `/` in the URL-path are merged before mapping (aliases, sections, rewrite rules and the file system see one). Off: they are kept for mapping; SCRIPT_NAME and PATH_INFO still collapse them, as mod_wsgi does.",
  apply(scope, [s]) {
    scope.host.mergeSlashes = setting(scope, parseFlag(s!, "MergeSlashes"));
  },
});
def({
  name: "AddDefaultCharset", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "AddDefaultCharset On|Off|charset", default: "Off",
  doc: "Adds `; charset=...` (On: `iso-8859-1`) to a `text/plain` or `text/html` Content-Type that names no charset, for application responses and static files alike, as httpd does for every response of the section; error pages already name theirs.",
  apply(scope, [s]) {
    const v = s!.toLowerCase() === "on" ? "iso-8859-1" : s!.toLowerCase() === "off" ? "" : s!;
    if (v !== "" && !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v)) throw badValue(`'${s}' is not a charset name`);
    scope.dir.addDefaultCharset = setting(scope, v);
  },
});
def({
  name: "ServerSignature", contexts: ALL, override: "Any", minArgs: 1, maxArgs: 1, syntax: "ServerSignature On|Off|EMail", default: "Off",
  doc: "The footer of the pages the server generates (error pages, directory listings) and SERVER_SIGNATURE: `<address>BANNER Server at NAME Port PORT</address>`, EMail links NAME to ServerAdmin. BANNER follows ServerTokens. In .htaccess any AllowOverride class allows it, as httpd.",
  apply(scope, [s]) {
    scope.dir.serverSignature = setting(scope, parseChoice(s!, ["On", "Off", "EMail"] as const).toLowerCase() as "on" | "off" | "email");
  },
});
def({
  name: "ServerTokens", contexts: S, minArgs: 1, maxArgs: 1, syntax: "ServerTokens Prod|Major|Minor|Min|OS|Full", default: "Full",
  doc: "How much the server banner says: Prod `nodewsgi`, Major `nodewsgi/0`, Minor `nodewsgi/0.1`, Min `nodewsgi/0.1.0`, OS adds `(OS)`, Full adds the Node.js version. The banner is SERVER_SOFTWARE, the `ServerSignature` footer and the `Server` response header.",
  apply(scope, [s]) {
    if (scope.context !== "server") return;
    scope.config.serverTokens = setting(scope, parseChoice(s!, ["Prod", "ProductOnly", "Major", "Minor", "Min", "Minimal", "OS", "Full"] as const).replace("ProductOnly", "Prod").replace("Minimal", "Min") as "Prod" | "Major" | "Minor" | "Min" | "OS" | "Full");
  },
});
def({
  name: "AllowEncodedSlashes", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "AllowEncodedSlashes On|Off|NoDecode", default: "Off",
  doc: "What to do with `%2F` in a URL path: Off answers 404, On decodes it to `/`, NoDecode accepts it and leaves it encoded.",
  apply(scope, [s]) {
    scope.host.allowEncodedSlashes = setting(scope, parseChoice(s!, ["On", "Off", "NoDecode"] as const).toLowerCase() as "on" | "off" | "nodecode");
  },
});
def({
  name: "DefaultType", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "DefaultType none", default: "none",
  doc: "Has no effect beyond `none` since httpd 2.4; other values are accepted with a notice, as httpd warns.",
  apply(scope, [s]) {
    if (s!.toLowerCase() !== "none") scope.notice(`DefaultType '${s}' has no effect (httpd 2.4 ignores it too); use AddType or ForceType`);
  },
});
def({
  name: "ErrorDocument", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: 2, syntax: "ErrorDocument error-code document",
  doc: "What to send instead of the built-in error page for a status: a local URL path (`/errors/404.html`, served by an internal redirect), an external URL (a redirect), or a quoted message. `default` restores the built-in page.",
  apply(scope, [code, doc]) {
    const n = parseInteger(code!, "error code", 400, 599);
    (scope.dir.errorDocuments ??= new Map()).set(n, setting(scope, doc!));
  },
});
def({
  name: "FileETag", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "FileETag component ...", default: "MTime Size",
  doc: "What the ETag of a static file is made from, in httpd's format (lower-case hex joined by `-`): INode, MTime, Size, All (the three), None (no ETag; `If-Match` then fails and `If-None-Match: *` still matches), Digest (base64 SHA-1 of the content). `+`/`-` adjust the inherited set; as in httpd, adjusting only the default leaves the default (`-MTime` alone is still MTime Size).",
  apply(scope, args) {
    scope.dir.fileETag = setting(scope, applyFileETag(scope.dir.fileETag?.value, args));
  },
});
def({
  name: "LimitRequestBody", contexts: ALL, override: "Any", minArgs: 1, maxArgs: 1, syntax: "LimitRequestBody bytes", default: "1073741824",
  doc: "The largest request body accepted, in bytes; 0 means unlimited. A Content-Length above it gets 413 before the application runs, and turns any other answer (a 403, a 401, a redirect, a listing, a static file, a 404) into 413, as httpd, which discards the body before answering; the limit is the one of the configuration the answer was made under (the server's for a server-context Redirect or RewriteRule). A chunked body is cut off at the limit. httpd 2.4.54 changed the default from unlimited to 1 GiB; nodewsgi uses 1 GiB.",
  apply(scope, [s]) {
    scope.dir.limitRequestBody = setting(scope, parseInteger(s!, "LimitRequestBody", 0));
  },
});
def({
  name: "LimitRequestFieldSize", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "LimitRequestFieldSize bytes", default: "8190",
  doc: "The largest request header field accepted; a larger one gets 400.",
  apply(scope, [s]) {
    scope.host.limitRequestFieldSize = setting(scope, parseInteger(s!, "LimitRequestFieldSize", 0, 65536));
  },
});
def({
  name: "LimitRequestFields", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "LimitRequestFields number", default: "100",
  doc: "The most request header fields accepted; more get 400. 0 means unlimited.",
  apply(scope, [s]) {
    scope.host.limitRequestFields = setting(scope, parseInteger(s!, "LimitRequestFields", 0, 32767));
  },
});
def({
  name: "LimitRequestLine", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "LimitRequestLine bytes", default: "8190",
  doc: "The longest request line accepted; a longer one gets 414.",
  apply(scope, [s]) {
    scope.host.limitRequestLine = setting(scope, parseInteger(s!, "LimitRequestLine", 0, 65536));
  },
});
def({
  name: "SetHandler", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "SetHandler handler-name|none",
  doc: "Forces every matching file to be processed by a handler regardless of extension: `wsgi-script` runs the file as a WSGI application (it needs `Options ExecCGI`), a WSGIHandlerScript name runs that script's `handle_request`. `none` removes a handler set further out. `type-map` makes every file a type map (mod_negotiation's variants list).",
  apply(scope, [h]) {
    scope.dir.handler = setting(scope, h!.toLowerCase() === "none" ? "none" : h!);
  },
});

// ---------------------------------------------------------------------------------------------
// mod_wsgi
// ---------------------------------------------------------------------------------------------
currentModule = "mod_wsgi";

const SCRIPT_OPTIONS = ["process-group", "application-group", "callable-object", "pass-authorization"] as const;

function parseScriptOptions(words: string[], allowed: readonly string[], what: string): WsgiScriptOptions {
  const out: WsgiScriptOptions = {};
  for (const w of words) {
    const [k, v] = splitOnce(w, "=");
    if (v === undefined || !allowed.includes(k)) {
      throw badValue(`invalid option '${w}' to ${what}; expected ${allowed.map((a) => a + "=").join(", ")}`);
    }
    if (v === "") throw badValue(`option ${k}= needs a value`);
    if (k === "process-group") {
      checkGroupExpression(v, "process-group");
      out.processGroup = v;
    } else if (k === "application-group") {
      checkGroupExpression(v, "application-group");
      out.applicationGroup = v;
    } else if (k === "callable-object") out.callableObject = v;
    else out.passAuthorization = parseFlag(v, "pass-authorization");
  }
  return out;
}

function scriptAlias(isRegex: boolean) {
  return (scope: ApplyScope, [pattern, target, ...opts]: string[]) => {
    const options = parseScriptOptions(opts, SCRIPT_OPTIONS, isRegex ? "WSGIScriptAliasMatch" : "WSGIScriptAlias");
    const compiled = isRegex ? regex(pattern!) : undefined;
    if (!isRegex && !pattern!.startsWith("/")) throw badValue(`URL path '${pattern}' must start with '/'`);
    scope.host.aliases.push({
      kind: isRegex ? "WSGIScriptAliasMatch" : "WSGIScriptAlias", isScript: true, regex: isRegex, pattern: pattern!,
      ...(compiled ? { compiled } : {}), target: scope.targetPath(target!), options, where: scope.where,
    });
  };
}

def({
  name: "WSGIScriptAlias", contexts: SV, wsgiWords: true, minArgs: 2, maxArgs: 6,
  syntax: "WSGIScriptAlias URL-path file-path|directory-path [process-group=name] [application-group=name] [callable-object=name] [pass-authorization=On|Off]",
  doc: "Mounts a WSGI application script at a URL path, like Alias but forcing the `wsgi-script` handler (no `Options ExecCGI` needed). With a file target, SCRIPT_NAME is the mount point and the rest of the URL is PATH_INFO; with a directory target (URL and path ending in `/`) the first segment names a script in that directory. The prefix matches at segment boundaries (`/app` does not match `/apple`). Alias and AliasMatch are tried first; among WSGI aliases the first in configuration order wins. Options choose the daemon process group, the application group (when both are literal the script is preloaded at start), the callable (default `application`) and whether Authorization is passed.",
  apply: scriptAlias(false),
});
def({
  name: "WSGIScriptAliasMatch", contexts: SV, wsgiWords: true, minArgs: 2, maxArgs: 6,
  syntax: "WSGIScriptAliasMatch regex file-path|directory-path [process-group=name] [application-group=name] [callable-object=name] [pass-authorization=On|Off]",
  doc: "WSGIScriptAlias with a PCRE regular expression; `$0`..`$9` in the target are replaced by the match's groups. The URL up to the end of the whole match becomes SCRIPT_NAME (so a pattern that swallows the whole URL leaves PATH_INFO empty), and the unmatched rest is appended to the target before the filesystem walk. Same options as WSGIScriptAlias.",
  apply: scriptAlias(true),
});
def({
  name: "WSGIHandlerScript", contexts: SVD, wsgiWords: true, minArgs: 2, maxArgs: 5,
  syntax: "WSGIHandlerScript handler-name script-path [process-group=name] [application-group=name] [pass-authorization=On|Off]",
  doc: "Defines a handler name for SetHandler/AddHandler: matching files are served by calling `handle_request(environ, start_response)` from the script (WSGICallableObject does not apply); the requested file is in `environ.SCRIPT_FILENAME`.",
  apply(scope, [name, script, ...opts]) {
    const options = parseScriptOptions(opts, ["process-group", "application-group", "pass-authorization"], "WSGIHandlerScript");
    const hs = { name: name!, script: scope.serverRelative(script!), options, where: scope.where };
    if (isServerLevel(scope)) scope.host.handlerScripts.set(name!, hs);
    else (scope.dir.handlerScripts ??= new Map()).set(name!, hs);
  },
});
def({
  name: "WSGIImportScript", contexts: SV, wsgiWords: true, minArgs: 3, maxArgs: 3,
  syntax: "WSGIImportScript script-path process-group=name application-group=name",
  doc: "Loads a script into an application group when its process starts, before any request, so the first request does not pay for it. Both options are required; the process group must be `%{GLOBAL}` or a WSGIDaemonProcess.",
  apply(scope, [script, ...opts]) {
    const o = parseScriptOptions(opts, ["process-group", "application-group"], "WSGIImportScript");
    if (o.processGroup === undefined || o.applicationGroup === undefined) {
      throw badArgs("both process-group= and application-group= are required");
    }
    // %{GLOBAL} is stored as "", the name the groups use for the main interpreter.
    const name = (g: string) => (g === "%{GLOBAL}" ? "" : g);
    scope.config.importScripts.push({ script: scope.serverRelative(script!), processGroup: name(o.processGroup), applicationGroup: name(o.applicationGroup), where: scope.where });
  },
});
/**
 * The hook script directives (mod_wsgi's wsgi_set_*_script): a script path and at most the
 * `application-group=` option, whose value is kept as written (see src/auth/wsgi-hook-environ.ts).
 */
function hookScript(
  name: string,
  what: string,
  contexts: readonly Context[],
  override: OverrideRequirement | undefined,
  store: (scope: ApplyScope, value: Setting<HookScript>) => void,
  doc: string,
): void {
  def({
    name, contexts, ...(override ? { override } : {}), wsgiWords: true, minArgs: 1, maxArgs: INF,
    syntax: `${name} script-path [application-group=name|%{GLOBAL}|%{SERVER}|%{HOST}]`, default: "application-group=%{GLOBAL}",
    doc,
    apply(scope, [script, ...opts]) {
      if (!script) throw badArgs(`Location of ${what} script not supplied.`);
      let applicationGroup = "%{GLOBAL}";
      for (const o of opts) {
        const eq = o.indexOf("=");
        if (eq < 0 || o.slice(0, eq) !== "application-group") throw badValue(`Invalid option to WSGI ${what} script definition.`);
        const v = o.slice(eq + 1);
        if (v === "") throw badValue("Invalid name for WSGI application group.");
        applicationGroup = v;
      }
      if (applicationGroup.startsWith("%{") && !["%{GLOBAL}", "%{SERVER}", "%{HOST}"].includes(applicationGroup)) {
        scope.notice(`${name}: application-group=${applicationGroup} is not expanded for hook scripts; it names an application group literally, as in mod_wsgi (only %{GLOBAL}, %{SERVER} and %{HOST} are)`);
      }
      store(scope, setting(scope, { script: scope.serverRelative(script), applicationGroup }));
    },
  });
}

const HOOK_GROUPS = "The functions run in the front-end process, never in a daemon process: in the main thread for `application-group=%{GLOBAL}` (the default), in the named application group's worker thread otherwise (`%{SERVER}` and `%{HOST}` are expanded per request, any other value is a literal name). A script used for applications of the same group shares its module with them. The script is loaded as applications are (CommonJS or ESM, any extension) and reloaded when its modification time changes. A function may return a promise; one that has not settled after `Timeout` seconds counts as failed.";

hookScript("WSGIAccessScript", "access", D, "AuthConfig", (scope, v) => (scope.dir.wsgiAccessScript = v),
  `Host-based access control by a script: \`allow_access(environ, host)\` is called in httpd's access checker phase (after Order/Allow/Deny, before \`Require\`), with the client's name when a host-name rule has looked it up and its address otherwise. \`true\` lets the request on to \`Require\` (under \`Satisfy Any\`, grants it outright), \`null\`/\`undefined\` expresses no opinion, \`false\` refuses it with 403 (under \`Satisfy Any\`, \`Require\` and authentication may still admit the client). Any other result, an exception or a script that cannot be loaded refuses with 403, logged. The environ is mod_wsgi's reduced one for auth hooks: the request's headers (no Authorization), the CGI server and client variables, SCRIPT_NAME/PATH_INFO, \`mod_wsgi.process_group\` (""), \`mod_wsgi.application_group\`, \`wsgi.errors\`, \`mod_ssl.is_https()\`; no SetEnv variables. ${HOOK_GROUPS}`);
hookScript("WSGIAuthUserScript", "auth user", D, "AuthConfig", (scope, v) => (scope.dir.wsgiAuthUserScript = v),
  `The \`wsgi\` provider of \`AuthBasicProvider\` and \`AuthDigestProvider\`. For Digest, \`get_realm_hash(environ, user, realm)\` returns the lower-case hex MD5 of user:realm:password (a latin-1 string or bytes, compared as is) or \`null\`/\`undefined\` for an unknown user (the next provider is asked); anything else, an exception or no such function give 500. For Basic, \`check_password(environ, user, password)\` returns \`true\` (authenticated), \`false\` (wrong password: 401, the providers after it are not asked), \`null\`/\`undefined\` (unknown user: the next provider is asked, 401 after the last), or a string, which authenticates and becomes REMOTE_USER. User and password are the credentials' UTF-8 text (credentials that are not UTF-8 get 500, logged). Any other result, an exception, a script that cannot be loaded or lacks the function give 500, logged. Same reduced environ as WSGIAccessScript. ${HOOK_GROUPS}`);
hookScript("WSGIAuthGroupScript", "auth group", D, "AuthConfig", (scope, v) => (scope.dir.wsgiAuthGroupScript = v),
  `The groups behind \`Require wsgi-group name ...\`: \`groups_for_user(environ, user)\` returns an iterable of group names (strings of bytes, or Buffers); the line grants when one of its names is among them. It is called for each \`Require wsgi-group\` line httpd's evaluation reaches, once a user is authenticated (by any provider). An empty list, no match, an exception or a result that is not such an iterable denies that line (logged), so the request gets 401 unless another line grants it. Same reduced environ as WSGIAccessScript. ${HOOK_GROUPS}`);
hookScript("WSGIDispatchScript", "dispatch", SVD, undefined, (scope, v) => (scope.dir.wsgiDispatchScript = v),
  `Chooses, per request, where an application runs: the script may export \`process_group(environ)\`, \`application_group(environ)\` and \`callable_object(environ)\`, called in that order just before the application would run (after the body checks). A string result overrides WSGIProcessGroup / WSGIApplicationGroup / WSGICallableObject and the \`WSGIScriptAlias\` options (\`%{GLOBAL}\`, \`%{RESOURCE}\`, \`%{SERVER}\`, \`%{HOST}\` and \`%{ENV:name}\` are expanded), \`null\`/\`undefined\` keeps the configured value. The chosen process group is then checked as a configured one is: outside WSGIRestrictProcess, or not defined by WSGIDaemonProcess, gives 500 (logged). An exception or a result that is not a string gives 500; a script that cannot be loaded is logged and the request runs as configured. The environ is the application's (without \`mod_wsgi.callable_object\`, with \`mod_wsgi.process_group\` "" and \`mod_wsgi.application_group\` the hook's group) plus \`wsgi.errors\`. ${HOOK_GROUPS}`);
flagDirective({
  name: "WSGIGroupAuthoritative", contexts: D, override: "AuthConfig", default: "On",
  doc: "Accepted as mod_wsgi accepts it (On or Off; anything else is an error) and without effect, as in mod_wsgi on httpd 2.4: `Require wsgi-group` is an authorization provider there, and whether a failed group check is final is mod_authz_core's decision (`<RequireAny>`, `<RequireAll>`). A notice says so.",
  notice: "WSGIGroupAuthoritative has no effect, as with mod_wsgi on httpd 2.4: whether a failed Require wsgi-group is final is up to <RequireAny>/<RequireAll>",
}, (scope, on) => (scope.dir.wsgiGroupAuthoritative = setting(scope, on)));
def({
  name: "WSGICallableObject", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "WSGICallableObject name", default: "application",
  doc: "The name of the exported callable that is the application. It must be a top-level export: dotted paths are not followed.",
  apply(scope, [name]) {
    if (!/^[A-Za-z_$][\w$]*$/.test(name!)) throw badValue(`'${name}' is not a plain identifier`);
    scope.dir.callableObject = setting(scope, name!);
  },
});
flagDirective({
  name: "WSGIPassAuthorization", contexts: ALL, override: "AuthConfig", default: "Off",
  doc: "Whether the Authorization request header reaches the application as `HTTP_AUTHORIZATION`. Off by default so credentials checked by the server are not leaked to applications.",
}, (scope, on) => (scope.dir.passAuthorization = setting(scope, on)));
flagDirective({
  name: "WSGIChunkedRequest", contexts: ALL, override: "FileInfo", default: "Off",
  doc: "Whether a request body sent with `Transfer-Encoding: chunked` is accepted. Off answers 411 Length Required, as mod_wsgi does.",
}, (scope, on) => (scope.dir.chunkedRequest = setting(scope, on)));
flagDirective({
  name: "WSGIScriptReloading", contexts: ALL, override: "FileInfo", default: "On",
  doc: "Whether a script whose modification time changed is reloaded on the next request (in daemon mode: the process group is restarted). In nodewsgi, `Off` at server level stops daemon process groups from restarting on a script change; scripts in the front-end process are always reloaded (a notice says so).",
}, (scope, on) => {
  if (!on) scope.notice("WSGIScriptReloading Off applies to daemon process groups, when set at server level; scripts in the front-end process are always reloaded");
  scope.dir.scriptReloading = setting(scope, on);
});
def({
  name: "WSGITrustedProxies", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "WSGITrustedProxies address|CIDR ...",
  doc: "The peers whose WSGITrustedProxyHeaders are believed. Without this directive every peer is trusted; with it, the listed headers from any other peer are removed. X-Forwarded-For is walked back over trusted hops.",
  apply(scope, args) {
    for (const a of args) if (!isAddressSpec(a, false)) throw badValue(`'${a}' is not an IP address or CIDR block`);
    scope.dir.trustedProxies = setting(scope, args);
  },
});
def({
  name: "WSGITrustedProxyHeaders", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "WSGITrustedProxyHeaders header ...",
  doc: "Forwarding headers to honour from trusted proxies: X-Forwarded-For, X-Client-IP, X-Real-IP (client address), X-Forwarded-Proto, X-Forwarded-Scheme, X-Scheme, X-Forwarded-HTTPS, X-Forwarded-SSL, X-HTTPS (scheme), X-Forwarded-Host, X-Host, X-Forwarded-Server, X-Forwarded-Port, X-Script-Name, X-Forwarded-Script-Name. Other names are accepted and ignored, as mod_wsgi does.",
  apply(scope, args) {
    for (const a of args) if (!/^[A-Za-z0-9-]+$/.test(a)) throw badValue(`'${a}' is not a header name`);
    scope.dir.trustedProxyHeaders = setting(scope, args);
  },
});
def({
  name: "WSGIProcessGroup", contexts: SVD, minArgs: 1, maxArgs: 1, syntax: "WSGIProcessGroup name|%{GLOBAL}|%{ENV:variable}", default: "%{GLOBAL}",
  doc: "The daemon process group (a WSGIDaemonProcess name) that runs matching requests. `%{GLOBAL}` runs them in the front-end process; `%{ENV:var}` takes the name from a request variable (SetEnv, RewriteRule [E=]).",
  apply(scope, [g]) {
    checkGroupExpression(g!, "WSGIProcessGroup");
    scope.dir.processGroup = setting(scope, g!);
  },
});
def({
  name: "WSGIApplicationGroup", contexts: SVD, minArgs: 1, maxArgs: 1, syntax: "WSGIApplicationGroup name|%{GLOBAL}|%{RESOURCE}|%{SERVER}|%{HOST}|%{ENV:variable}", default: "%{RESOURCE}",
  doc: "The application group (a separate JavaScript isolate) an application runs in. `%{RESOURCE}` gives each mount its own (`host[:port]|SCRIPT_NAME`), `%{SERVER}` one per virtual host, `%{GLOBAL}` the process's main isolate (fastest, no thread hop), a literal name shares one isolate between mounts.",
  apply(scope, [g]) {
    checkGroupExpression(g!, "WSGIApplicationGroup");
    scope.dir.applicationGroup = setting(scope, g!);
  },
});
def({
  name: "WSGIRestrictProcess", contexts: SVD, minArgs: 1, maxArgs: INF, syntax: "WSGIRestrictProcess group ...",
  doc: "The process groups WSGIProcessGroup may select here; selecting another gives 403.",
  apply(scope, args) {
    scope.dir.restrictProcess = setting(scope, args);
  },
});
def({
  name: "WSGIMapHEADToGET", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "WSGIMapHEADToGET On|Off|Auto", default: "Auto",
  doc: "Whether HEAD requests reach the application as GET (so it produces the same headers); the body is discarded.",
  apply(scope, [s]) {
    scope.notice("WSGIMapHEADToGET has no effect: applications see HEAD as HEAD, and no body is sent");
    scope.dir.mapHeadToGet = setting(scope, parseChoice(s!, ["On", "Off", "Auto"] as const).toLowerCase() as "on" | "off" | "auto");
  },
});
flagDirective({
  name: "WSGIErrorOverride", contexts: ALL, override: "FileInfo", default: "Off",
  doc: "In daemon mode, whether ErrorDocument pages replace error responses produced by the application.",
  notice: "WSGIErrorOverride has no effect: error responses from applications are passed through",
}, (scope, on) => (scope.dir.errorOverride = setting(scope, on)));
flagDirective({
  name: "WSGIEnableSendfile", contexts: ALL, override: "FileInfo", default: "Off",
  doc: "Whether `wsgi.file_wrapper` responses are sent with sendfile().",
  notice: "WSGIEnableSendfile has no effect: wsgi.file_wrapper responses are streamed",
}, (scope, on) => (scope.dir.enableSendfile = setting(scope, on)));
flagDirective({
  name: "WSGIIgnoreActivity", contexts: ALL, override: "FileInfo", default: "Off",
  doc: "Matching requests (health checks) do not reset a daemon group's inactivity-timeout clock.",
  notice: "WSGIIgnoreActivity has no effect: every request resets the inactivity-timeout clock",
}, (scope, on) => (scope.dir.ignoreActivity = setting(scope, on)));
flagDirective({
  name: "WSGIRestrictEmbedded", contexts: S, default: "Off",
  doc: "When On, a request not delegated to a daemon process group gets 500 instead of running in the front-end process.",
}, (scope, on) => (scope.config.restrictEmbedded = on));
def({
  name: "WSGISocketPrefix", contexts: S, minArgs: 1, maxArgs: 1, syntax: "WSGISocketPrefix path-prefix", default: "a private runtime directory",
  doc: "Path prefix for the Unix sockets between the front end and daemon process groups. Relative to ServerRoot.",
  apply(scope, [p]) {
    scope.notice("WSGISocketPrefix has no effect: daemon sockets live in a private directory under the system temporary directory");
    scope.config.socketPrefix = setting(scope, scope.serverRelative(p!));
  },
});
def({
  name: "WSGIDaemonProcess", contexts: SV, wsgiWords: true, minArgs: 1, maxArgs: INF,
  syntax: "WSGIDaemonProcess name [option=value] ...",
  doc: "Defines a daemon process group: `processes` child Node processes (default 1) with `threads` requests in flight each (default 15), selected by WSGIProcessGroup or `process-group=`. The name must be unique in the server. Options, as mod_wsgi's: processes, threads, maximum-requests, restart-interval, inactivity-timeout, request-timeout, interrupt-timeout, graceful-timeout (15), eviction-timeout, shutdown-timeout (5), deadlock-timeout (300), startup-timeout, queue-timeout, connect-timeout (15), socket-timeout (Timeout), response-socket-timeout, listen-backlog (100), display-name, home, user, group, supplementary-groups, umask, lang, locale, memory-limit, virtual-memory-limit, cpu-time-limit, cpu-priority, stack-size, send-buffer-size, receive-buffer-size, header-buffer-size, response-buffer-size, script-user, script-group, socket-user, server-metrics; python-home, python-path, python-eggs, switch-interval and chroot are accepted for compatibility. Any other option is an error. An explicit `processes=` (even 1) makes `wsgi.multiprocess` true. `maximum-requests=N` hands each process at most N requests (then it finishes them and is replaced; see [groups.md](../groups.md) for each recycling reason). `deadlock-timeout` replaces a process whose main event loop has been blocked that long (a heartbeat stops); `interrupt-timeout` (mod_wsgi 6) first aborts just the request past `request-timeout` and keeps the process if the application unwinds within it; `response-socket-timeout` (off unless set) gives up a response whose pushed-back piece (up to 256 KiB) the client has not taken for that long; `header-buffer-size` (32768) bounds a response header line (a longer one is a 500); `response-buffer-size` is the per-request response window between the process and the front end (256 KiB when 0); `eviction-timeout` is the old processes' drain time on a graceful restart (SIGHUP) instead of the server's; `home` is the processes' working directory (without it, the home directory of `user=` when that is not the server's user, as mod_wsgi). " +
    "The process options apply before the application loads: `umask`, `supplementary-groups` (as root: the process's gid and these groups; the child drops privileges itself), `cpu-priority` (nice value), `virtual-memory-limit` (RLIMIT_AS through util-linux `prlimit`; 0 or at least 2 GiB, as V8 reserves that much address space), `socket-user` (as root: owner of each process's socket file). `script-user=`/`script-group=`: a script whose file or directory is not owned by that user (group), or is writable by others, is refused with 403 and mod_wsgi's reason in the error log. `stack-size`, `send-buffer-size`, `receive-buffer-size`, `response-flush-delay` and `server-metrics` have no effect in nodewsgi and say so with a notice (see [groups.md](../groups.md#daemon-process-groups)).",
  apply(scope, [name, ...opts]) {
    if (name!.includes("=")) throw badArgs(`the first argument is the group name, got '${name}'`);
    const prev = scope.config.daemonProcesses.get(name!);
    if (prev) throw badValue(`name '${name}' duplicates the WSGIDaemonProcess at ${prev.where.file}:${prev.where.line}`);
    const spec = defaultDaemonSpec(name!, scope.where);
    for (const o of opts) applyDaemonOption(spec, o, scope);
    noticeLifecycleWithoutEffect(spec, scope);
    scope.config.daemonProcesses.set(name!, spec);
  },
});

// ---------------------------------------------------------------------------------------------
// mod_alias
// ---------------------------------------------------------------------------------------------
currentModule = "mod_alias";

def({
  name: "Alias", contexts: SV, minArgs: 2, maxArgs: 2, syntax: "Alias URL-path file-path|directory-path",
  doc: "Maps URLs starting with URL-path to a file or directory outside the DocumentRoot. Tried before any WSGIScriptAlias, in configuration order; the prefix matches at segment boundaries and runs of `/` match each other. Access to the target still needs a <Directory> that grants it.",
  apply(scope, [url, target]) {
    scope.host.aliases.push({ kind: "Alias", isScript: false, regex: false, pattern: url!, target: scope.targetPath(target!), options: {}, where: scope.where });
  },
});
def({
  name: "AliasMatch", contexts: SV, minArgs: 2, maxArgs: 2, syntax: "AliasMatch regex file-path|directory-path",
  doc: "Alias with a PCRE regular expression; `$0`..`$9` in the target are replaced by the match's groups, and the rest of the URL is not appended.",
  apply(scope, [re, target]) {
    const compiled = regex(re!);
    scope.host.aliases.push({ kind: "AliasMatch", isScript: false, regex: true, pattern: re!, compiled, target: scope.targetPath(target!), options: {}, where: scope.where });
  },
});

function redirectStatus(s: string): number | undefined {
  const named: Record<string, number> = { permanent: 301, temp: 302, seeother: 303, gone: 410 };
  if (s.toLowerCase() in named) return named[s.toLowerCase()];
  if (/^\d{3}$/.test(s)) {
    const n = Number(s);
    if ((n >= 300 && n < 400) || (n >= 400 && n < 600)) return n;
    throw badValue(`redirect status ${s} must be 3xx, 4xx or 5xx`);
  }
  return undefined;
}

/**
 * mod_alias's location-wide Redirect (add_redirect_internal with cmd->path set): inside a
 * section or .htaccess, `Redirect [status] URL` with no URL-path redirects every request there
 * to URL, a string expression (`%{REQUEST_URI}` ...); `Redirect gone` (or another non-3xx
 * status) alone answers with that status. Returns false for the URL-path forms.
 */
function locationRedirect(scope: ApplyScope, args: string[]): boolean {
  if (isServerLevel(scope) || args.length > 2) return false;
  const st = redirectStatus(args[0]!);
  const isRedirect = st !== undefined && st >= 300 && st < 400;
  let source: string | undefined;
  if (isRedirect && args.length === 2) source = args[1];
  else if (st === undefined && args.length === 1) source = args[0];
  else if (st !== undefined && !isRedirect && args.length === 1) {
    scope.dir.locationRedirect = setting(scope, { status: st });
    return true;
  } else return false;
  const url = configExpr(() => parseStringExpr(source!, scope.where), `Cannot parse redirect expression '${source}': `);
  scope.dir.locationRedirect = setting(scope, { status: st ?? 302, url });
  return true;
}

function addRedirect(scope: ApplyScope, isRegex: boolean, args: string[], fixed?: number): void {
  if (!isRegex && fixed === undefined && locationRedirect(scope, args)) return;
  let status = fixed ?? 302;
  let rest = args;
  if (fixed === undefined && args.length > 1) {
    const st = redirectStatus(args[0]!);
    if (st !== undefined) {
      status = st;
      rest = args.slice(1);
    }
  }
  const [pattern, url, extra] = rest;
  if (extra !== undefined || pattern === undefined) throw badArgs("expects [status] URL-path [URL]");
  if (status >= 300 && status < 400 && url === undefined) throw badArgs(`a ${status} redirect needs a target URL`);
  if (status >= 400 && url !== undefined) throw badArgs(`a ${status} response takes no target URL`);
  if (url !== undefined && !/^[a-z][a-z0-9+.-]*:/i.test(url) && !url.startsWith("/")) throw badValue(`'${url}' is not a URL or an absolute path`);
  const compiled = isRegex ? regex(pattern) : undefined;
  const r: RedirectDirective = {
    regex: isRegex, pattern, ...(compiled ? { compiled } : {}), status,
    ...(url !== undefined ? { url, urlBytes: toByteString(url) } : {}),
    prefixBytes: isRegex ? pattern : toByteString(pattern),
    where: scope.where,
  };
  if (isServerLevel(scope)) scope.host.redirects.push(r);
  else (scope.dir.redirects ??= []).push(r);
}

def({
  name: "Redirect", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 3, syntax: "Redirect [status] URL-path [URL]  or, in a section or .htaccess, Redirect [status] URL", default: "status 302",
  doc: "Answers requests for URL-path (and below) with a redirect to URL plus the rest of the path. Status may be permanent (301), temp (302), seeother (303), gone (410, no URL) or a number. Redirects are checked before aliases. Inside <Location>, <Directory>, <Files>, <If> or .htaccess, `Redirect [status] URL` without a URL-path redirects every request there to URL, an httpd string expression (`\"https://www.example.com%{REQUEST_URI}\"`), and `Redirect gone` (or another non-3xx status) alone answers with that status. As in httpd, such a Redirect in a <Location>/<LocationMatch> or in an <If> at server level or in those answers while the URL is translated: before the server's own Redirect lines and aliases, before access checks and authentication (those sections are merged before translation, for the URL as sent); in <Directory>, <Files> and .htaccess it answers after access checks.",
  apply(scope, args) {
    addRedirect(scope, false, args);
  },
});
def({
  name: "RedirectMatch", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: 3, syntax: "RedirectMatch [status] regex URL",
  doc: "Redirect with a PCRE regular expression; `$0`..`$9` in the URL are replaced by the match's groups.",
  apply(scope, args) {
    addRedirect(scope, true, args);
  },
});
def({
  name: "RedirectPermanent", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: 2, syntax: "RedirectPermanent URL-path URL",
  doc: "Redirect with status 301.",
  apply(scope, args) {
    addRedirect(scope, false, args, 301);
  },
});
def({
  name: "RedirectTemp", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: 2, syntax: "RedirectTemp URL-path URL",
  doc: "Redirect with status 302.",
  apply(scope, args) {
    addRedirect(scope, false, args, 302);
  },
});

// ---------------------------------------------------------------------------------------------
// mod_mime, mod_dir, mod_env, mod_setenvif, mod_headers, mod_log_config
// ---------------------------------------------------------------------------------------------
currentModule = "mod_mime";

type ExtensionTable = "addHandlers" | "addTypes" | "addEncodings" | "addCharsets" | "addLanguages";

function extMap(scope: ApplyScope, key: ExtensionTable, value: string, exts: string[]): void {
  const m = (scope.dir[key] ??= new Map());
  for (const e of exts) {
    const ext = e.replace(/^\./, "").toLowerCase();
    if (ext === "") throw badValue("empty extension");
    m.set(ext, setting(scope, value));
  }
}

/** RemoveHandler, RemoveType, ...: an empty mapping for each extension hides the inherited one. */
function removeMapping(name: string, adder: string, key: ExtensionTable): void {
  def({
    name, contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: `${name} extension [extension] ...`,
    doc: `Removes inherited ${adder} mappings for these extensions.`,
    apply(scope, exts) {
      extMap(scope, key, "", exts);
    },
  });
}

def({
  name: "AddHandler", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "AddHandler handler-name extension [extension] ...",
  doc: "Files with one of these extensions (anywhere in the name, as mod_mime matches) are processed by the handler: `wsgi-script` (needs `Options ExecCGI`) or a WSGIHandlerScript name. Adds to the mappings inherited from enclosing sections. `type-map` makes the files type maps (`AddHandler type-map .var`): mod_negotiation chooses among the variants the map lists.",
  apply(scope, [h, ...exts]) {
    extMap(scope, "addHandlers", h!, exts);
  },
});
removeMapping("RemoveHandler", "AddHandler", "addHandlers");
def({
  name: "AddType", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "AddType media-type extension [extension] ...",
  doc: "Maps extensions to a Content-Type for static files, over the built-in table. A file of type `application/x-type-map` with no handler of its own is a type map, as with `AddHandler type-map` (mod_negotiation handles that type).",
  apply(scope, [t, ...exts]) {
    if (!/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(t!)) throw badValue(`'${t}' is not a media type`);
    extMap(scope, "addTypes", t!.toLowerCase(), exts);
  },
});
removeMapping("RemoveType", "AddType", "addTypes");
def({
  name: "ForceType", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "ForceType media-type|None",
  doc: "Every file in the section is served with this Content-Type, whatever its extension; `None` clears a ForceType set further out. Handlers still apply.",
  apply(scope, [t]) {
    if (t!.toLowerCase() !== "none" && !/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(t!)) throw badValue(`'${t}' is not a media type`);
    scope.dir.forceType = setting(scope, t!.toLowerCase() === "none" ? "none" : t!);
  },
});
def({
  name: "AddLanguage", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "AddLanguage language-tag extension [extension] ...",
  doc: "Maps extensions to a content language: static files, and the answers of script files so named, get `Content-Language` (every tag in the name, joined by `,`, as `z.fr.de.txt` gives `fr,de`), and MultiViews chooses between `page.html.en` and `page.html.fr` by Accept-Language.",
  apply(scope, [lang, ...exts]) {
    extMap(scope, "addLanguages", lang!.toLowerCase(), exts);
  },
});
def({
  name: "AddEncoding", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "AddEncoding encoding extension [extension] ...",
  doc: "Maps extensions to a Content-Encoding (`gzip`, `br`, ...) for static files; every extension of the name counts (`a.tar.gz.Z` is `gzip, x-compress` when both are mapped). The type still comes from the other extensions and TypesConfig (`x.css.gz` is `application/gzip`). A MultiViews dimension.",
  apply(scope, [e, ...exts]) {
    extMap(scope, "addEncodings", e!.toLowerCase(), exts);
  },
});
def({
  name: "AddCharset", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "AddCharset charset extension [extension] ...",
  doc: "Maps extensions to a charset, lower-cased as httpd does: it replaces or joins the `charset` parameter of a static file's Content-Type (no type, no charset), and wins over AddDefaultCharset; ForceType replaces the whole type. A MultiViews dimension.",
  apply(scope, [c, ...exts]) {
    extMap(scope, "addCharsets", c!.toLowerCase(), exts);
  },
});
removeMapping("RemoveCharset", "AddCharset", "addCharsets");
removeMapping("RemoveEncoding", "AddEncoding", "addEncodings");
removeMapping("RemoveLanguage", "AddLanguage", "addLanguages");
def({
  name: "MultiviewsMatch", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 2, syntax: "MultiviewsMatch Any|NegotiatedOnly|Filters|Handlers [Handlers|Filters]", default: "NegotiatedOnly",
  doc: "Which files MultiViews may choose among: NegotiatedOnly (only extensions with a type, encoding, charset or language), Handlers (also extensions with a handler, e.g. `.wsgi`), Any.",
  apply(scope, args) {
    const vals = args.map((a) => parseChoice(a, ["Any", "NegotiatedOnly", "Filters", "Handlers"] as const, "MultiviewsMatch"));
    if (vals.length === 2 && (vals.includes("Any") || vals.includes("NegotiatedOnly"))) throw badValue("Any and NegotiatedOnly stand alone");
    const v = (vals.length === 2 ? "Filters Handlers" : vals[0]!) as "Any" | "NegotiatedOnly" | "Filters" | "Handlers" | "Filters Handlers";
    scope.dir.multiviewsMatch = setting(scope, v);
  },
});
def({
  name: "DefaultLanguage", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "DefaultLanguage language-tag",
  doc: "The language of files whose name gives none (no AddLanguage extension), as mod_mime sets it: a static file and an application's answer get `Content-Language` with it (an application's own Content-Language follows, joined by `,`), and MultiViews negotiates such a file as being in that language. The tag is used as written.",
  apply(scope, [lang]) {
    scope.dir.defaultLanguage = setting(scope, lang!);
  },
});
currentModule = "mod_negotiation";
def({
  name: "CacheNegotiatedDocs", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "CacheNegotiatedDocs On|Off", default: "Off",
  doc: "Off (the default): an HTTP/1.0 client gets `Expires` set to the time of the answer on what a type map chose, so that HTTP/1.0 caches do not keep a negotiated answer (httpd 2.4 loses this for MultiViews, which answers by a fast redirect). On: no such `Expires`.",
  apply(scope, [v]) {
    scope.dir.cacheNegotiatedDocs = setting(scope, parseFlag(v!, "CacheNegotiatedDocs"));
  },
});
def({
  name: "LanguagePriority", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "LanguagePriority language-tag [language-tag] ...",
  doc: "The order of preference among languages when MultiViews finds variants equally acceptable by Accept-Language (or the client sent none): the earlier tag wins. A tag matches a variant's language that it prefixes (`en` matches `en-gb`), case-insensitively. Several lines in one section add to the list; an inner section's list replaces an outer one. See ForceLanguagePriority.",
  apply(scope, langs) {
    const before = scope.dir.languagePriority?.value ?? [];
    scope.dir.languagePriority = setting(scope, [...before, ...langs]);
  },
});
def({
  name: "ForceLanguagePriority", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "ForceLanguagePriority None|Prefer|Fallback [Prefer|Fallback]", default: "Prefer",
  doc: "How LanguagePriority decides: `Prefer` (the default) breaks ties between variants of equal Accept-Language quality; `Fallback` serves the LanguagePriority variant when no language the client accepts is available, where httpd would otherwise answer 406 Not Acceptable; `Prefer Fallback` does both; `None` neither.",
  apply(scope, args) {
    let prefer = false, fallback = false, none = false;
    for (const a of args) {
      const v = parseChoice(a, ["None", "Prefer", "Fallback"] as const, "ForceLanguagePriority");
      if (v === "None") {
        if (prefer || fallback) throw badValue("Cannot combine ForceLanguagePriority options with None");
        none = true;
      } else if (none) {
        throw badValue(`Cannot combine ForceLanguagePriority options None and ${v}`);
      } else if (v === "Prefer") prefer = true;
      else fallback = true;
    }
    scope.dir.forceLanguagePriority = setting(scope, { prefer, fallback });
  },
});

currentModule = "mod_dir";
def({
  name: "DirectoryIndex", contexts: ALL, override: "Indexes", minArgs: 1, maxArgs: INF, syntax: "DirectoryIndex disabled|local-url [local-url] ...", default: "index.html",
  doc: "What to serve for a request for a directory: the first of these that exists (relative names in the directory, or absolute URL paths). `disabled` turns it off. A later DirectoryIndex in the same section adds to the list; in a nested section it replaces it.",
  apply(scope, args) {
    if (args.length === 1 && args[0]!.toLowerCase() === "disabled") {
      scope.dir.directoryIndex = setting(scope, []);
      return;
    }
    const prev = scope.dir.directoryIndex?.value ?? [];
    scope.dir.directoryIndex = setting(scope, [...prev, ...args]);
  },
});
flagDirective({
  name: "DirectorySlash", contexts: ALL, override: "Indexes", default: "On",
  doc: "Whether a request for a directory without a trailing slash is redirected (301) to the URL with one.",
}, (scope, on) => (scope.dir.directorySlash = setting(scope, on)));

currentModule = "mod_env";
def({
  name: "SetEnv", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: 2, syntax: "SetEnv variable [value]",
  doc: "Sets a request variable: it appears in the application's `environ` (never in `process.env`) and can select groups through `%{ENV:variable}`. Accumulates with enclosing sections.",
  apply(scope, [name, value]) {
    (scope.dir.env ??= []).push({ op: "set", name: name!, value: value ?? "", where: scope.where });
  },
});
def({
  name: "UnsetEnv", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "UnsetEnv variable [variable] ...",
  doc: "Removes request variables set by SetEnv or PassEnv further out.",
  apply(scope, names) {
    for (const n of names) (scope.dir.env ??= []).push({ op: "unset", name: n, where: scope.where });
  },
});
def({
  name: "PassEnv", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "PassEnv variable [variable] ...",
  doc: "Copies variables from the server's own environment into each request's variables.",
  apply(scope, names) {
    for (const n of names) (scope.dir.env ??= []).push({ op: "pass", name: n, where: scope.where });
  },
});

currentModule = "mod_setenvif";
function setEnvIf(ci: boolean, fixedAttribute?: string) {
  return (scope: ApplyScope, args: string[]) => {
    const [attribute, pattern, ...assignments] = fixedAttribute ? [fixedAttribute, ...args] : args;
    if (!assignments.length) throw badArgs("needs at least one variable to set");
    const compiled = regex(pattern!, ci);
    const early = scope.context === "server" || scope.context === "virtualhost";
    // Checked and translated here, as the pattern is: a bad one is a config error, not a 500 per request.
    const nameRegex = isHeaderNameRegex(attribute!) ? regex(attribute!, true) : undefined;
    (scope.dir.setEnvIf ??= []).push({
      attribute: attribute!, pattern: pattern!, compiled, plain: isPlainPattern(pattern!), ...(nameRegex ? { nameRegex } : {}),
      assignments: assignments.map(toByteString), early, where: scope.where,
    });
  };
}
def({
  name: "SetEnvIf", contexts: ALL, override: "FileInfo", minArgs: 3, maxArgs: INF, syntax: "SetEnvIf attribute regex [!]variable[=value] ...",
  doc: "Sets request variables when a request attribute (a header name, Remote_Addr, Remote_Host, Request_Method, Request_Protocol, Request_URI) matches a regular expression. Request_URI is the decoded URL-path inside sections and .htaccess; outside any section it is the path as the client sent it (`%C3%A9` undecoded), as httpd runs those rules before decoding.",
  apply: setEnvIf(false),
});
def({
  name: "SetEnvIfNoCase", contexts: ALL, override: "FileInfo", minArgs: 3, maxArgs: INF, syntax: "SetEnvIfNoCase attribute regex [!]variable[=value] ...",
  doc: "SetEnvIf with a case-insensitive match.",
  apply: setEnvIf(true),
});
def({
  name: "SetEnvIfExpr", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "SetEnvIfExpr \"expression\" [!]variable[=value] ...",
  doc: "Sets request variables when an httpd expression (as in <If>) is true. A value may use `$0`..`$9` from the expression's last regex match with a capturing group. Evaluated with the other SetEnvIf rules, in order.",
  apply(scope, [source, ...assignments]) {
    const expr = configExpr(() => parseExpr(source!, scope.where), `Could not parse expression "${source}": `);
    (scope.dir.setEnvIf ??= []).push({
      attribute: "", pattern: "", compiled: NO_PATTERN, plain: false, expr,
      assignments: assignments.map(toByteString), early: scope.context === "server" || scope.context === "virtualhost", where: scope.where,
    });
  },
});
/** SetEnvIfExpr rules have no pattern of their own (their `compiled` is never used). */
const NO_PATTERN = compileConfigRegex("");
def({
  name: "BrowserMatch", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "BrowserMatch regex [!]variable[=value] ...",
  doc: "SetEnvIf on the User-Agent header.",
  apply: setEnvIf(false, "User-Agent"),
});
def({
  name: "BrowserMatchNoCase", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: INF, syntax: "BrowserMatchNoCase regex [!]variable[=value] ...",
  doc: "BrowserMatch with a case-insensitive match.",
  apply: setEnvIf(true, "User-Agent"),
});

currentModule = "mod_headers";
/** A value's `%` tags are mod_headers' own; a line break in one would split the header. */
function checkHeaderFormat(value: string): void {
  const parts = parseHeaderFormat(value);
  if (typeof parts === "string") throw badValue(parts);
  // httpd answers every request with 500 then; refusing the line says why at once.
  if (parts.some((p) => typeof p === "string" && /[\r\n]/.test(p))) throw badValue("a header value cannot contain a line break (\\r or \\n)");
}
const HEADER_ACTIONS = ["set", "setifempty", "append", "merge", "add", "unset", "echo", "edit", "edit*", "note"] as const;
function headerDirective(which: "Header" | "RequestHeader") {
  return (scope: ApplyScope, args: string[]) => {
    let i = 0;
    let condition: "onsuccess" | "always" | undefined;
    if (which === "Header" && /^(always|onsuccess)$/i.test(args[0]!)) condition = args[i++]!.toLowerCase() as "always" | "onsuccess";
    const action = parseChoice(args[i++] ?? "", HEADER_ACTIONS, "action");
    let header = args[i++];
    if (header === undefined) throw badArgs("needs a header name");
    // `Header set X-Name: value`: the colon is not part of the name.
    if (header.includes(":") && action !== "echo") header = header.slice(0, header.indexOf(":"));
    let value: string | undefined;
    let replacement: string | undefined;
    let compiled: ConfigRegex | undefined;
    if (action === "edit" || action === "edit*") {
      value = args[i++];
      replacement = args[i++];
      if (replacement === undefined) throw badArgs(`${action} needs a regex and a replacement`);
      compiled = regex(value!);
    } else if (action !== "unset" && action !== "echo") {
      value = args[i++];
      if (value === undefined) throw badArgs(`${action} needs a value`);
    }
    const extra = args[i++];
    let expr: Expr | undefined;
    if (extra !== undefined && /^expr=/i.test(extra)) {
      expr = configExpr(() => parseExpr(extra.slice(5), scope.where), "Can't parse envclause/expression: ");
    } else if (extra !== undefined && !/^(early|env=!?.+)$/i.test(extra)) throw badValue(`unexpected '${extra}' (early, env=[!]var or expr=expression)`);
    // mod_headers' value expressions (`Header set X "expr=%{...}"`): string-valued ap_expr.
    let valueExpr: StringExpr | undefined;
    if (value !== undefined && value.startsWith("expr=") && action !== "edit" && action !== "edit*") {
      const source = value.slice(5);
      valueExpr = configExpr(() => parseStringExpr(source, scope.where), "Can't parse value expression : ");
    }
    if (replacement !== undefined && replacement.startsWith("expr=")) {
      throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", "an edit replacement given as an expression (expr=...) is not supported by nodewsgi");
    }
    if (args[i] !== undefined) throw badArgs("too many arguments");
    // What goes into a header is bytes: the configuration's UTF-8 bytes (an edit pattern stays
    // as written; `compiled` is its translation over byte strings).
    if (value !== undefined && !compiled && !valueExpr) {
      value = toByteString(value);
      if (action !== "note") checkHeaderFormat(value);
    }
    if (replacement !== undefined) replacement = toByteString(replacement);
    (scope.dir.headers ??= []).push({
      directive: which, ...(condition ? { condition } : {}), action, header,
      ...(value !== undefined ? { value } : {}), ...(compiled ? { compiled } : {}), ...(replacement !== undefined ? { replacement } : {}), ...(extra !== undefined ? { extra } : {}),
      ...(expr ? { expr } : {}), ...(valueExpr ? { valueExpr } : {}), where: scope.where,
    });
  };
}
def({
  name: "Header", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: 6, syntax: "Header [always|onsuccess] set|append|merge|add|setifempty|unset|echo|edit|edit*|note header [value] [replacement] [early|env=[!]var|expr=expression]",
  doc: "Changes response headers. As in httpd a response has two tables: `onsuccess` rules (the default) edit the headers of the content (an application's response, whatever its status, or a static file), `always` rules edit a second table sent before it, and are the only ones applied to the server's own error and redirect pages (so `Header always unset` cannot remove an application's header). `setifempty` sets a header that is absent; `note` copies a header's value into a request note for the access log's `%{NAME}n`. Values may use `%D`, `%t`, `%{VAR}e`, `%{VAR}s`, `%l`, `%i`, `%b`, `%%` and the escapes `\\n` `\\t` `\\r` `\\\\`; a line break in a value is refused. `env=[!]VAR` or `expr=expression` (an httpd expression, as in <If>; `resp('Name')` reads the response's headers and `%{REQUEST_STATUS}` its status, as httpd's: a static file's 206 reads 200, as httpd's byterange filter makes it after mod_headers ran) makes the rule conditional; an expression that cannot be evaluated is logged and the rule applies, as in httpd. The request headers a condition reads (not through `req_novary`) are added to the response's Vary as the rule runs, true or false, as httpd does (a later `Header unset Vary` removes them). A value written `\"expr=...\"` is a string expression (`%{VAR}`, `%{func:arg}` in text), evaluated per response. `early` rules run with the others.",
  apply: headerDirective("Header"),
});
def({
  name: "RequestHeader", contexts: ALL, override: "FileInfo", minArgs: 2, maxArgs: 5, syntax: "RequestHeader set|append|merge|add|setifempty|unset|edit|edit* header [value] [replacement] [early|env=[!]var|expr=expression]",
  doc: "Changes request headers once the request is mapped (httpd's fixup), before it is served: the application sees the result in its HTTP_* environ keys, and a static file is answered from the edited fields (so `RequestHeader unset Range` gives the whole file and `RequestHeader unset If-None-Match` no 304, as in httpd). Values use the same format as Header's. `env=[!]VAR` or `expr=expression` makes the rule conditional; a value written `\"expr=...\"` is a string expression. `early` rules run with the others.",
  apply: headerDirective("RequestHeader"),
});

currentModule = "mod_log_config";
def({
  name: "LogFormat", contexts: SV, minArgs: 1, maxArgs: 2, syntax: "LogFormat format|nickname [nickname]", default: "\"%h %l %u %t \\\"%r\\\" %>s %b\"",
  doc: "Defines an access log format, optionally under a nickname that CustomLog can use. The `%` directives are mod_log_config's.",
  apply(scope, [fmt, nick]) {
    scope.host.logFormats.set(nick ?? "", fmt!);
  },
});
def({
  name: "CustomLog", contexts: SV, minArgs: 2, maxArgs: 3, syntax: "CustomLog file|\"|command\" format|nickname [env=[!]variable|expr=expression]",
  doc: "Writes an access log line per request to a file (relative to ServerRoot) or piped command, in a format or a LogFormat nickname. `env=[!]variable` logs only requests with (without) that variable; `expr=expression` only those for which the httpd expression (as in <If>) is true when the request is logged (`%{REQUEST_STATUS}` is the status sent; one that cannot be evaluated does not log, and the error log says why as httpd's does: `Evaluation of expression from FILE:LINE failed: ...`, then `AH00644: Error evaluating log condition: ...` at `warn`).",
  apply(scope, [target, fmt, cond]) {
    if (cond !== undefined && /^expr=$/i.test(cond)) throw badValue("missing condition");
    if (cond !== undefined && !/^(env=!?.+|expr=.+)$/i.test(cond)) throw badValue(`'${cond}' must be env=[!]variable or expr=...`);
    let conditionExpr: Expr | undefined;
    if (cond !== undefined && /^expr=/i.test(cond)) conditionExpr = configExpr(() => parseExpr(cond.slice(5), scope.where), "");
    const format = scope.host.logFormats.get(fmt!) ?? scope.config.main.logFormats.get(fmt!) ?? fmt!;
    const t = target!.startsWith("|") ? target! : scope.serverRelative(target!);
    scope.host.customLogs.push({ target: t, format, ...(cond !== undefined ? { condition: cond } : {}), ...(conditionExpr ? { conditionExpr } : {}), where: scope.where });
  },
});
def({
  name: "TransferLog", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "TransferLog file|\"|command\"",
  doc: "CustomLog with the most recent LogFormat that has no nickname.",
  apply(scope, [target]) {
    const format = scope.host.logFormats.get("") ?? scope.config.main.logFormats.get("") ?? "%h %l %u %t \"%r\" %>s %b";
    const t = target!.startsWith("|") ? target! : scope.serverRelative(target!);
    scope.host.customLogs.push({ target: t, format, where: scope.where });
  },
});

// ---------------------------------------------------------------------------------------------
// Authentication and authorization
// ---------------------------------------------------------------------------------------------
currentModule = "mod_authz_core";
def({
  name: "Require", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: INF,
  syntax: "Require [not] all granted|all denied|valid-user|user name ...|group name ...|ip address ...|host name ...|local|env variable ...|method METHOD ...|wsgi-group name ...|expr expression",
  doc: "Who may access: `all granted`, `all denied`, `valid-user` (any user authenticated by AuthType Basic or Digest), `user` names, `group` names (members listed in AuthGroupFile), client `ip` addresses or CIDR blocks, `host` names (reverse DNS), `local` (loopback), an `env` variable set, an HTTP `method`, membership of a `wsgi-group` (WSGIAuthGroupScript), or an httpd expression (`expr`, as in <If>; one that reads REMOTE_USER asks for credentials when it denies). Several lines in a section combine as <RequireAny>. A nested section's Require lines replace the inherited ones unless AuthMerging says otherwise. `not` negates a line; it is only allowed inside <RequireAll> or <RequireNone>.",
  apply(scope, args) {
    let negated = false;
    let a = args;
    if (a[0]!.toLowerCase() === "not") {
      negated = true;
      a = a.slice(1);
    }
    const provider = (a[0] ?? "").toLowerCase();
    let requireExpr: Expr | undefined;
    const rest = a.slice(1);
    switch (provider) {
      case "all":
        if (rest.length !== 1 || !/^(granted|denied)$/i.test(rest[0]!)) throw badArgs("Require all takes 'granted' or 'denied'");
        rest[0] = rest[0]!.toLowerCase();
        break;
      case "valid-user":
      case "local":
        if (rest.length) throw badArgs(`Require ${provider} takes no arguments`);
        break;
      case "user":
      case "host":
      case "env":
      case "method":
        if (!rest.length) throw badArgs(`Require ${provider} needs at least one argument`);
        break;
      case "ip":
        if (!rest.length) throw badArgs("Require ip needs at least one address");
        for (const ip of rest) if (!isAddressSpec(ip, true)) throw badValue(`'${ip}' is not an IP address, partial address, CIDR block or network/mask`);
        break;
      case "wsgi-group":
        // mod_wsgi's authorization provider (WSGIAuthGroupScript); no names is accepted (it never matches).
        break;
      case "group":
        if (!rest.length) throw badArgs("Require group needs at least one group name");
        // httpd reads the rest of the line as an ap_expr string (variables, backslash escapes)
        // before splitting it into names; only literal names are implemented.
        if (/%\{|\$[0-9]|\\/.test(scope.rawArgs)) throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", "Require group: expressions (%{...}), backreferences and backslash escapes in group names are not supported by nodewsgi");
        break;
      case "expr": {
        // mod_authz_core passes the rest of the line as written; one pair of enclosing double quotes is dropped.
        let text = /^\s*(?:not\s+)?expr\s+([\s\S]*?)\s*$/i.exec(scope.rawArgs)?.[1] ?? "";
        if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1);
        // Parsed once, here: the requirement is compiled from this (src/map/access-phase.ts toRequireInput).
        requireExpr = configExpr(() => parseExpr(text, scope.where), "Cannot parse expression in require line: ");
        rest.splice(0, rest.length, text);
        break;
      }
      case "file-owner":
      case "file-group":
        throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", `Require ${provider} is not supported by nodewsgi`);
      default:
        throw badValue(`unknown authorization provider '${a[0] ?? ""}' (all, valid-user, user, group, ip, host, local, env, method, wsgi-group, expr)`);
    }
    const target = scope.authzContainer ?? (scope.dir.authz ??= { kind: "any", items: [], where: scope.where });
    if (negated && target.kind === "any") {
      throw badValue("negative Require directive has no effect in <RequireAny> directive (use it inside <RequireAll> or <RequireNone>)");
    }
    target.items.push({ kind: "require", negated, provider, args: rest, ...(requireExpr ? { expr: requireExpr } : {}), ...(scope.methodLimit ? { limit: scope.methodLimit } : {}), where: scope.where });
  },
});
def({
  name: "AuthMerging", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "AuthMerging Off|And|Or", default: "Off",
  doc: "How this section's Require lines combine with the inherited ones: Off replaces them, And requires both, Or either.",
  apply(scope, [s]) {
    scope.dir.authMerging = setting(scope, parseChoice(s!, ["Off", "And", "Or"] as const, "AuthMerging"));
  },
});

currentModule = "mod_access_compat";
/** The section's mod_access_compat settings, created with the module's defaults on first use. */
const accessCompatFor = (scope: ApplyScope): AccessCompat => (scope.dir.accessCompat ??= emptyAccessCompat());
def({
  name: "Order", contexts: D, override: "Limit", minArgs: 1, maxArgs: 1, syntax: "Order allow,deny|deny,allow|mutual-failure", default: "deny,allow",
  doc: "Apache 2.2 access control (mod_access_compat): the order `Allow from` and `Deny from` are evaluated in. `deny,allow`: denied only if a Deny line matches and no Allow line does. `allow,deny` and `mutual-failure`: allowed only if an Allow line matches and no Deny line does. Checked before `Require`; see Satisfy. A section that uses any of Order, Allow, Deny or Satisfy replaces all four inherited settings (httpd does not merge them).",
  apply(scope, [o]) {
    const order = o!.toLowerCase();
    if (order !== "allow,deny" && order !== "deny,allow" && order !== "mutual-failure") throw badValue("unknown order (allow,deny, deny,allow or mutual-failure)");
    const ac = accessCompatFor(scope);
    if (scope.methodLimit) (ac.methodOrders ??= []).push({ value: order, limit: scope.methodLimit });
    else {
      ac.order = order;
      delete ac.methodOrders;
    }
  },
});
for (const which of ["Allow", "Deny"] as const) {
  def({
    name: which, contexts: D, override: "Limit", minArgs: 2, maxArgs: INF, syntax: `${which} from all|address|network/mask|network/nnn|host|env=[!]variable ...`,
    doc: `Apache 2.2 access control (mod_access_compat): ${which === "Allow" ? "let in" : "keep out"} clients matching any argument after \`from\`: \`all\`; a full or partial IPv4 address (\`10.1\`); a network with a netmask or prefix length (\`10.1.0.0/255.255.0.0\`, \`10.1.0.0/16\`, \`2001:db8::/32\`); a host name or domain suffix (\`example.org\`, \`.example.org\`), matched against the client's name found by a double reverse DNS lookup, as httpd does (asynchronously, answers kept 30 s); \`env=VAR\` (the variable is set, e.g. by SetEnvIf) or \`env=!VAR\` (it is not). How Allow and Deny combine is Order's.`,
    apply(scope, [from, ...hosts]) {
      if (from!.toLowerCase() !== "from") throw badArgs("allow and deny must be followed by 'from'");
      const rules = hosts.map((h) => {
        try {
          return parseHostRule(h);
        } catch (e) {
          throw badValue((e as Error).message);
        }
      });
      const ac = accessCompatFor(scope);
      const limited = scope.methodLimit ? rules.map((r) => ({ ...r, limit: scope.methodLimit })) : rules;
      (which === "Allow" ? ac.allows : ac.denys).push(...limited);
    },
  });
}
def({
  name: "Satisfy", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "Satisfy Any|All", default: "All",
  doc: "How Apache 2.2 host-based access (Order, Allow, Deny) combines with `Require`: `All` needs both; `Any` grants a request that Allow/Deny let in without asking `Require` or authenticating, and leaves any other request to `Require` (so `Require valid-user` can still admit it after Basic authentication). Setting it starts the section's Order/Allow/Deny afresh, as httpd does.",
  apply(scope, [s]) {
    const satisfy = parseChoice(s!, ["Any", "All"] as const, "Satisfy") === "Any" ? "any" : "all";
    const ac = accessCompatFor(scope);
    if (scope.methodLimit) (ac.methodSatisfy ??= []).push({ value: satisfy, limit: scope.methodLimit });
    else {
      ac.satisfy = satisfy;
      delete ac.methodSatisfy;
    }
  },
});

currentModule = "mod_auth_basic";
def({
  name: "AuthType", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "AuthType Basic|Digest|None",
  doc: "The kind of user authentication: Basic (HTTP Basic, against AuthUserFile or AuthBasicProvider's providers), Digest (HTTP Digest as mod_auth_digest does it: see AuthDigestProvider) or None. Form is not supported.",
  apply(scope, [t]) {
    if (t!.toLowerCase() === "form") throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", `AuthType ${t} is not supported by nodewsgi (Basic, Digest or None)`);
    scope.dir.authType = setting(scope, parseChoice(t!, ["Basic", "Digest", "None"] as const, "AuthType"));
  },
});
def({
  name: "AuthName", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "AuthName realm",
  doc: "The realm sent in the `WWW-Authenticate` challenge; browsers show it in the login prompt. With AuthType Digest it is also part of what is hashed (htdigest's realm field), in the form httpd gives it: a `\"` in the name is sent, and hashed, as `\\\"`.",
  apply(scope, [n]) {
    scope.dir.authName = setting(scope, n!);
  },
});
/** httpd's authn providers that nodewsgi does not have (mod_authn_anon, _dbd, _dbm, _socache, mod_authnz_ldap). */
const MISSING_AUTHN_PROVIDERS = new Set(["anon", "dbd", "dbm", "socache", "ldap"]);
/**
 * AuthBasicProvider and AuthDigestProvider names: looked up case-sensitively when the line is
 * read, as httpd's ap_lookup_provider does (`File` is refused at start-up with its message).
 */
function checkAuthnProviders(names: readonly string[]): void {
  for (const p of names) {
    if (p === "file" || p === "wsgi") continue;
    if (MISSING_AUTHN_PROVIDERS.has(p)) throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", `Unknown Authn provider: ${p} (nodewsgi has file and wsgi)`);
    throw badValue(`Unknown Authn provider: ${p}`);
  }
}
def({
  name: "AuthBasicProvider", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: INF, syntax: "AuthBasicProvider file|wsgi ...", default: "file",
  doc: "Where Basic credentials are checked, in order: `file` (AuthUserFile) and `wsgi` (WSGIAuthUserScript's `check_password`). Names are case-sensitive, as in httpd (`File` is refused: `Unknown Authn provider: File`); several lines in a section add to the list. As in mod_auth_basic, a provider that does not know the user passes the request to the next one; a wrong password, or a provider that fails (500), ends the search.",
  apply(scope, args) {
    checkAuthnProviders(args);
    // Several lines in a section add to its list, as mod_auth_basic's add_authn_provider does.
    scope.dir.authBasicProvider = setting(scope, [...(scope.dir.authBasicProvider?.value ?? []), ...args]);
  },
});
currentModule = "mod_auth_digest";
/** The section's mod_auth_digest settings, created with the module's defaults by its first directive (httpd merges none of them). */
const digestFor = (scope: ApplyScope): DigestSettings => (scope.dir.authDigest ??= setting(scope, defaultDigestSettings())).value;
const DIGEST_OWN = "A section (or .htaccess) that uses any AuthDigest* directive starts from the defaults for all of them: httpd does not merge mod_auth_digest's settings with the enclosing section's.";
def({
  name: "AuthDigestProvider", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: INF, syntax: "AuthDigestProvider file|wsgi ...", default: "file",
  doc: `Where AuthType Digest finds the hash of user:realm:password, in order: \`file\` (AuthUserFile in htdigest format, \`user:realm:hash\` lines) and \`wsgi\` (WSGIAuthUserScript's \`get_realm_hash(environ, user, realm)\`). Names are case-sensitive, as in httpd. A provider that does not know the user passes the request to the next one; a provider that fails (500) ends the search. Several lines add to the list. ${DIGEST_OWN}`,
  apply(scope, args) {
    checkAuthnProviders(args);
    const d = digestFor(scope);
    d.providers = [...(d.providers ?? []), ...args];
  },
});
def({
  name: "AuthDigestQop", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: INF, syntax: "AuthDigestQop auth", default: "auth",
  doc: `The quality of protection offered: only \`auth\` is accepted, as by httpd 2.4.71 (\`none\` and \`auth-int\` are configuration errors there too; clients answering without qop, RFC 2069 style, are refused with 401). ${DIGEST_OWN}`,
  apply(scope, args) {
    for (const q of args) if (q.toLowerCase() !== "auth") throw badValue("AuthDigestQop is deprecated: only 'auth' is supported");
    digestFor(scope);
  },
});
def({
  name: "AuthDigestNonceLifetime", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "AuthDigestNonceLifetime seconds", default: "300",
  doc: `How long a nonce is good for, in seconds. An older one gets a new challenge with \`stale=true\` (the client retries without asking the user); a success within 30 seconds of the end carries a \`nextnonce\` in Authentication-Info. 0 makes every nonce good for one request (the next comes in Authentication-Info); a negative value never expires. ${DIGEST_OWN}`,
  apply(scope, [t]) {
    // strtol, as httpd reads it: a number, then nothing or whitespace.
    const n = strtol(t!, 10);
    if (n.end < t!.length && !/\s/.test(t![n.end]!)) throw badValue(`Invalid time in AuthDigestNonceLifetime: ${t}`);
    digestFor(scope).nonceLifetime = Number(n.value);
  },
});
flagDirective({
  name: "AuthDigestNcCheck", contexts: D, override: "AuthConfig", default: "Off",
  doc: `Track each client (by the opaque of its challenge) and refuse a nonce-count that does not go up for the same nonce: a replayed request gets 401 (AH01774). The clients are kept in a table of AuthDigestShmemSize. ${DIGEST_OWN}`,
}, (scope, on) => (digestFor(scope).ncCheck = on));
def({
  name: "AuthDigestAlgorithm", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "AuthDigestAlgorithm MD5", default: "MD5",
  doc: `The hash algorithm: only MD5, as in httpd 2.4.71 (MD5-sess and SHA-256 are configuration errors there too; a client answering with another algorithm gets 401). ${DIGEST_OWN}`,
  apply(scope, [a]) {
    if (a!.toLowerCase() !== "md5") throw badValue(`Unsupported algorithm in AuthDigestAlgorithm: ${a}`);
    digestFor(scope);
  },
});
def({
  name: "AuthDigestDomain", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: INF, syntax: "AuthDigestDomain URI ...",
  doc: `The URIs of the protection space, sent as the challenge's \`domain\` so a client can send its credentials there without asking first. Several lines add to the list. ${DIGEST_OWN}`,
  apply(scope, args) {
    const d = digestFor(scope);
    d.domains = [...(d.domains ?? []), ...args];
  },
});
def({
  name: "AuthDigestShmemSize", contexts: SV, minArgs: 1, maxArgs: 1, syntax: "AuthDigestShmemSize size[K|M]", default: "1000",
  doc: "How much room there is for the clients AuthDigestNcCheck and one-time nonces track (httpd's shared memory segment: about 56 bytes a client; 1000 bytes hold 14). When it is full the oldest client of each of its buckets is dropped, and a dropped client's next request gets a new opaque and a stale nonce. One value for the whole server (the last given wins, as in httpd); a new value takes effect at a full restart, not a graceful one. At most 64M (the table is in the JavaScript heap, and clients without credentials can fill it). With AuthDigestNcCheck On every challenge takes a client, so a table much smaller than the number of clients at once makes them retry (stale nonces).",
  apply(scope, [v]) {
    const n = strtol(v!, 10);
    let i = n.end === 0 ? 0 : n.end;
    while (/\s/.test(v![i] ?? "")) i++;
    const unit = v![i];
    let size = Number(n.value);
    if (unit === "k" || unit === "K") size *= 1024;
    else if (unit === "m" || unit === "M") size *= 1048576;
    else if (unit !== undefined && unit !== "b" && unit !== "B") throw badValue(`Invalid size in AuthDigestShmemSize: ${v}`);
    if (size < MIN_SHMEM_SIZE) throw badValue(`size in AuthDigestShmemSize too small: ${size} < ${MIN_SHMEM_SIZE}`);
    if (!(size <= MAX_SHMEM_SIZE)) throw badValue(`size in AuthDigestShmemSize too large for nodewsgi: ${v} (at most ${MAX_SHMEM_SIZE / 1048576}M)`);
    scope.config.authDigestShmemSize = setting(scope, size);
  },
});

currentModule = "mod_authn_file";
def({
  name: "AuthUserFile", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "AuthUserFile file-path",
  doc: "The users' file, relative to ServerRoot. For AuthType Basic an htpasswd file of `user:hash` lines (bcrypt `$2y$`, `$apr1$` MD5, `{SHA}` and crypt hashes); for AuthType Digest an htdigest file of `user:realm:hash` lines, the hash being the lower-case hex MD5 of `user:realm:password` (the first line of the user in the realm counts).",
  apply(scope, [p]) {
    scope.dir.authUserFile = setting(scope, scope.serverRelative(p!));
  },
});

currentModule = "mod_authz_groupfile";
def({
  name: "AuthGroupFile", contexts: D, override: "AuthConfig", minArgs: 1, maxArgs: 1, syntax: "AuthGroupFile file-path",
  doc: "A text file of `group: user1 user2 ...` lines for `Require group`. Relative to ServerRoot. Read as httpd reads it: a line ending in `\\` continues on the next, `#` starts a comment line, the group name is the text before the colon (ASCII case does not matter), members are words (quote a name with spaces), a group may have several lines. The file is parsed when first needed and again whenever it changes (httpd re-reads it for every request; the answers are the same). A file that cannot be opened denies the group (so an authenticated user gets 401), logged as AH01665.",
  apply(scope, [p]) {
    scope.dir.authGroupFile = setting(scope, scope.serverRelative(p!));
  },
});

// ---------------------------------------------------------------------------------------------
// mod_rewrite
// ---------------------------------------------------------------------------------------------
currentModule = "mod_rewrite";

flagDirective({
  name: "RewriteEngine", contexts: ALL, override: "FileInfo", default: "Off",
  doc: "Turns mod_rewrite processing on for the server, virtual host or directory. Rules in server context apply to the URL before mapping; rules in <Directory> and .htaccess apply to the path relative to that directory after mapping. As in httpd, the server-context rules obey RewriteEngine as <Location>/<LocationMatch> sections and the <If> sections at server level or in those set it for the URL (merged before translation, with no file mapped yet; <Directory> and .htaccess are merged later and switch only per-directory rules): `<Location /static> RewriteEngine Off </Location>` exempts a URL space from the server's rules, and a <Location> with RewriteEngine On runs them there even when the server has no RewriteEngine On.",
}, (scope, on) => (rewriteFor(scope).engine = on));
def({
  name: "RewriteOptions", contexts: ALL, override: "FileInfo", minArgs: 1, maxArgs: INF, syntax: "RewriteOptions Inherit|InheritBefore|InheritDown|InheritDownBefore|IgnoreInherit|AllowNoSlash|AllowAnyURI|MergeBase ...",
  doc: "Inherit appends the parent's rules after this context's; InheritBefore puts them before. Without it a directory with its own rewrite directives does not run the parent directory's rules. MergeBase: such a directory keeps the parent's RewriteBase when it sets none (without it, as in httpd, a RewriteBase applies only to the section that sets it).",
  apply(scope, args) {
    const choices: readonly RewriteOption[] = ["Inherit", "InheritBefore", "InheritDown", "InheritDownBefore", "IgnoreInherit", "AllowNoSlash", "AllowAnyURI", "MergeBase", "LongURLOptimization", "LegacyPrefixDocRoot"];
    rewriteFor(scope).options = args.map((a) => parseChoice(a, choices, "RewriteOptions"));
  },
});
def({
  name: "RewriteBase", contexts: D, override: "FileInfo", minArgs: 1, maxArgs: 1, syntax: "RewriteBase URL-path",
  doc: "The URL prefix that replaces the directory path in relative substitutions of per-directory rules.",
  apply(scope, [b]) {
    if (!b!.startsWith("/")) throw badValue("RewriteBase takes an absolute URL path");
    rewriteFor(scope).base = b!;
  },
});
def({
  name: "RewriteCond", contexts: ALL, rewriteWords: true, override: "FileInfo", minArgs: 2, maxArgs: 3, syntax: "RewriteCond TestString [!]CondPattern [[NC,OR,NV]]",
  doc: "A condition on the next RewriteRule: TestString (with `%{VARIABLE}`, `$N` and `%N` references) is matched against a regular expression, compared (`=`, `<`, `>`, `<=`, `>=`, `-eq`...) or tested as a file (`-f`, `-d`, `-s`, `-l`, `-x`, `-U`, `-F`); or `RewriteCond expr \"expression\"`, an httpd expression as in <If> (its last regex match with a capturing group gives `%N`). Flags: NC (no case), OR (or with the next condition), NV (headers an expression reads are not named in Vary).",
  apply(scope, [test, pat, flagText]) {
    rewriteFor(scope).pendingConditions.push(parseRewriteCond(test!, pat!, flagText, scope.where));
  },
});
def({
  name: "RewriteRule", contexts: ALL, rewriteWords: true, override: "FileInfo", minArgs: 2, maxArgs: 3, syntax: "RewriteRule [!]Pattern Substitution [flags]",
  doc: "Rewrites the URL (server context) or the path relative to the directory (per-directory) when Pattern matches and the preceding RewriteCond lines hold. Substitution `-` leaves it unchanged. Flags: L, END, PT, QSA, QSD, NC, NE, C, F, G, R[=code], S=n, E=var:value, CO=name:value:domain[:lifetime[:path[:secure[:httponly[:samesite]]]]] (a Set-Cookie on the response), H=handler, T=type, N, B, NS, DPI and others of mod_rewrite; [P] (proxy) is not supported. Arguments are split as mod_rewrite does: `\\ ` keeps a space in a pattern, and backslashes are left for the pattern.",
  apply(scope, [pat, sub, flagText]) {
    const rw = rewriteFor(scope);
    rw.rules.push(parseRewriteRule(pat!, sub!, flagText, rw.pendingConditions, scope.where));
    rw.pendingConditions = [];
  },
});
def({
  name: "RewriteMap", contexts: SV, minArgs: 2, maxArgs: 3, syntax: "RewriteMap MapName MapType:MapSource",
  doc: "Defines a map for `${MapName:key|default}` in substitutions: txt (a text file of key value lines), rnd, int (toupper, tolower, escape, unescape). dbm, prg and dbd are not supported. A txt or rnd file is read when the map is first used and again when its modification time changes; one copy serves the server context, every directory and every virtual host that inherits the map.",
  apply(scope, [name, spec]) {
    const m = /^(txt|rnd|int|dbm|prg|dbd|fastdbd)(?:=[^:]*)?:(.+)$/i.exec(spec!);
    if (!m) throw badValue(`'${spec}' is not MapType:MapSource`);
    const type = m[1]!.toLowerCase();
    if (!["txt", "rnd", "int"].includes(type)) throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", `map type ${type} is not supported by nodewsgi (txt, rnd, int)`);
    if (type === "int" && !/^(toupper|tolower|escape|unescape)$/.test(m[2]!)) throw badValue(`unknown internal map '${m[2]}'`);
    const source = type === "int" ? m[2]! : scope.serverRelative(m[2]!);
    scope.host.rewriteMaps.set(name!, { name: name!, type, source, where: scope.where });
  },
});

// ---------------------------------------------------------------------------------------------
// Accepted without effect, and known but unsupported
// ---------------------------------------------------------------------------------------------

function ignored(module: string, names: string[], contexts: readonly Context[], reason: string, override?: OverrideRequirement): void {
  for (const name of names) {
    table.push({
      name, module, kind: "directive", status: "ignored", contexts, ...(override ? { override } : {}), minArgs: 0, maxArgs: INF,
      syntax: `${name} ...`, doc: `Accepted for compatibility with httpd configurations and ignored: ${reason}.`,
      apply(scope) {
        scope.notice(`${name}: ignored (${reason})`);
      },
    });
  }
}

function unsupported(module: string, names: string[], reason: string): void {
  for (const name of names) {
    table.push({
      name, module, kind: "directive", status: "unsupported", contexts: ALL, minArgs: 0, maxArgs: INF,
      syntax: `${name} ...`, doc: `Known but not supported by nodewsgi: ${reason}. Using it is a configuration error.`,
      apply() {
        throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", `not supported by nodewsgi (${reason})`);
      },
    });
  }
}

ignored("core", ["User", "Group"], SV, "nodewsgi runs as the user that starts it; use user= and group= on WSGIDaemonProcess");
ignored("core", ["HostnameLookups", "Protocols", "Mutex", "DefaultRuntimeDir", "ScoreBoardFile", "ListenBacklog", "EnableMMAP", "EnableSendfile", "ServerLimit", "ThreadLimit", "StartServers", "MinSpareServers", "MaxSpareServers", "MinSpareThreads", "MaxSpareThreads", "ThreadsPerChild", "MaxRequestWorkers", "MaxClients", "MaxConnectionsPerChild", "MaxRequestsPerChild", "LogMessage", "ExtendedStatus"], SV, "not applicable to nodewsgi's process model or built-in defaults");
ignored("mod_so", ["LoadFile"], S, "nodewsgi has no loadable modules");
ignored("mod_mime", ["TypesConfig"], SV, "nodewsgi uses its built-in MIME table; add types with AddType");
ignored("mod_autoindex", ["IndexOptions", "IndexIgnore", "IndexOrderDefault", "IndexStyleSheet", "HeaderName", "ReadmeName", "AddIcon", "AddIconByType", "AddIconByEncoding", "AddAlt", "AddAltByType", "AddAltByEncoding", "AddDescription", "DefaultIcon"], ALL, "directory listings use a fixed format", "Indexes");
ignored("mod_wsgi", ["WSGIPythonHome", "WSGIPythonPath", "WSGIPythonEggs", "WSGIPythonOptimize", "WSGIPythonHashSeed", "WSGIPythonWarnings", "WSGIDontWriteBytecode", "WSGISwitchInterval", "WSGIDestroyInterpreter", "WSGIPerInterpreterGIL", "WSGIFreeThreading", "WSGIRestrictStdin", "WSGIRestrictStdout", "WSGIRestrictSignal", "WSGILazyInitialization", "WSGIVerboseDebugging"], S, "Python interpreter setting");
ignored("mod_wsgi", ["WSGIAcceptMutex", "WSGISocketRotation", "WSGIServerMetrics", "WSGICaseSensitivity"], S, "not applicable to nodewsgi's process model");
unsupported("mod_alias", ["ScriptAlias", "ScriptAliasMatch"], "CGI is not implemented; use WSGIScriptAlias");
unsupported("mod_wsgi", ["WSGIPassApacheRequest", "WSGITelemetryService", "WSGITelemetryOptions", "WSGISlowRequests"], "not implemented yet");

// LoadModule gets its own entry: a module we implement needs no notice.
currentModule = "mod_so";
def({
  name: "LoadModule", contexts: S, minArgs: 2, maxArgs: 2, syntax: "LoadModule module-name file-path",
  doc: "Accepted so httpd configurations load unchanged. nodewsgi's modules are built in; naming one of them is silent, naming any other gives a notice and the module is absent for <IfModule>.",
  apply(scope, [name]) {
    if (!isKnownModule(name!)) scope.notice(`LoadModule ${name}: nodewsgi has no such module; ignored`);
  },
});

// ---------------------------------------------------------------------------------------------

const OVERRIDE_CLASSES: readonly OverrideClass[] = ["AuthConfig", "FileInfo", "Indexes", "Limit", "Options"];
export const OPTION_NAMES: readonly OptionName[] = ["ExecCGI", "Indexes", "MultiViews", "FollowSymLinks", "SymLinksIfOwnerMatch", "Includes", "IncludesNOEXEC"];
const OPTIONS_ALL: readonly OptionName[] = ["ExecCGI", "Indexes", "FollowSymLinks", "SymLinksIfOwnerMatch", "Includes"];

/**
 * An expression parsed when the configuration is read: a syntax error is the directive's
 * error, `prefix` and the parser's message, as the httpd module that owns the directive words it.
 */
function configExpr<T>(parse: () => T, prefix: string): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof ExprError)) throw e;
    throw badValue(prefix + e.message);
  }
}

/** httpd's set_options: one `Options` line to a setting (not yet merged). */
function parseOptions(args: string[], scope: ApplyScope) {
  let first = true;
  let merge = false;
  let allNone = false;
  const opts = new Set<OptionName>();
  const add = new Set<OptionName>();
  const remove = new Set<OptionName>();
  let explicit = false;
  for (const word of args) {
    let w = word;
    let action = "";
    if (w.startsWith("+") || w.startsWith("-")) {
      action = w[0]!;
      w = w.slice(1);
      if (!merge && !first && !allNone) throw badValue("Either all Options must start with + or -, or no Option may.");
      merge = true;
    } else if (first) {
      explicit = true;
      opts.clear();
    } else if (merge) {
      throw badValue("Either all Options must start with + or -, or no Option may.");
    }
    let list: readonly OptionName[];
    const lw = w.toLowerCase();
    if (lw === "none" || lw === "all") {
      if (!first) throw badValue(`'Options ${w}' must be the first Option given.`);
      if (merge) throw badValue(`You may not use 'Options +${w}' or 'Options -${w}'.`);
      list = lw === "all" ? OPTIONS_ALL : [];
      allNone = true;
    } else {
      const hit = OPTION_NAMES.find((o) => o.toLowerCase() === lw);
      if (!hit) throw badValue(`Illegal option ${w}`);
      list = [hit];
    }
    if (scope.allowedOptions && list.some((o) => !scope.allowedOptions!.includes(o))) throw badValue("Option not allowed here");
    for (const o of list) {
      if (action === "-") {
        remove.add(o);
        add.delete(o);
        opts.delete(o);
      } else if (action === "+") {
        add.add(o);
        remove.delete(o);
        opts.add(o);
      } else opts.add(o);
    }
    first = false;
  }
  return { opts: [...opts], add: [...add], remove: [...remove], explicit, where: scope.where };
}

export function defaultDaemonSpec(name: string, where: Where): DaemonProcessSpec {
  return {
    name, processes: 1, processesExplicit: false, threads: 15, maximumRequests: 0, restartInterval: 0, inactivityTimeout: 0,
    requestTimeout: 0, interruptTimeout: 0, gracefulTimeout: 15, evictionTimeout: 0, shutdownTimeout: 5, deadlockTimeout: 300,
    startupTimeout: 0, queueTimeout: 0, connectTimeout: 15, socketTimeout: 0, responseSocketTimeout: 0, listenBacklog: 100,
    memoryLimit: 0, virtualMemoryLimit: 0, cpuTimeLimit: 0, cpuPriority: 0, stackSize: 0, sendBufferSize: 0, receiveBufferSize: 0,
    headerBufferSize: 0, responseBufferSize: 0, supplementaryGroups: [], pythonPath: [], serverMetrics: false, where,
  };
}

type NumericDaemonKey = { [K in keyof DaemonProcessSpec]-?: DaemonProcessSpec[K] extends number ? K : never }[keyof DaemonProcessSpec];

/** mod_wsgi's integer options: name -> [field, minimum, maximum, minimum when non-zero]. */
const DAEMON_INTS: Record<string, [NumericDaemonKey, number, number?, number?]> = {
  processes: ["processes", 1],
  threads: ["threads", 0, 65533],
  "maximum-requests": ["maximumRequests", 0],
  "restart-interval": ["restartInterval", 0],
  "inactivity-timeout": ["inactivityTimeout", 0],
  "request-timeout": ["requestTimeout", 0],
  "interrupt-timeout": ["interruptTimeout", 0],
  "graceful-timeout": ["gracefulTimeout", 0],
  "eviction-timeout": ["evictionTimeout", 0],
  "shutdown-timeout": ["shutdownTimeout", 0],
  "deadlock-timeout": ["deadlockTimeout", 0],
  "startup-timeout": ["startupTimeout", 0],
  "queue-timeout": ["queueTimeout", 0],
  "connect-timeout": ["connectTimeout", 0],
  "socket-timeout": ["socketTimeout", 0],
  "response-socket-timeout": ["responseSocketTimeout", 0],
  "listen-backlog": ["listenBacklog", 0],
  "memory-limit": ["memoryLimit", 0],
  "virtual-memory-limit": ["virtualMemoryLimit", 0],
  "cpu-time-limit": ["cpuTimeLimit", 0],
  "cpu-priority": ["cpuPriority", -20, 20],
  "stack-size": ["stackSize", 0],
  "send-buffer-size": ["sendBufferSize", 0, undefined, 512],
  "receive-buffer-size": ["receiveBufferSize", 0, undefined, 512],
  "header-buffer-size": ["headerBufferSize", 0, undefined, 8192],
  "response-buffer-size": ["responseBufferSize", 0, undefined, 65536],
};

const DAEMON_STRINGS = ["display-name", "home", "user", "group", "lang", "locale", "script-user", "script-group", "socket-user", "python-home", "python-eggs"] as const;
const DAEMON_OTHER = ["supplementary-groups", "umask", "python-path", "switch-interval", "server-metrics", "chroot", "response-flush-delay"];
export const DAEMON_OPTION_NAMES: readonly string[] = [...Object.keys(DAEMON_INTS), ...DAEMON_STRINGS, ...DAEMON_OTHER].sort();

function applyDaemonOption(spec: DaemonProcessSpec, word: string, scope: ApplyScope): void {
  const [k, v] = splitOnce(word, "=");
  const key = k.toLowerCase();
  if (v === undefined) throw badValue(`invalid option '${word}': options are name=value`);
  if (!DAEMON_OPTION_NAMES.includes(key)) {
    const near = DAEMON_OPTION_NAMES.filter((n) => n.startsWith(key.slice(0, 4)) || key.startsWith(n.slice(0, 6)));
    throw badValue(`unknown option '${k}'${near.length ? ` (did you mean ${near.join(" or ")}?)` : ""}`);
  }
  if (v === "") throw badValue(`option ${k}= needs a value`);
  const ints = DAEMON_INTS[key];
  if (ints) {
    const [field, min, max, minNonZero] = ints;
    const n = parseInteger(v, k, min, max);
    if (minNonZero !== undefined && n !== 0 && n < minNonZero) throw badValue(`${k} must be 0 or at least ${minNonZero}, got ${n}`);
    spec[field] = n;
    if (key === "processes") spec.processesExplicit = true;
    noticeIfNoEffect(key, scope);
    if (key === "virtual-memory-limit") checkVirtualMemoryLimit(n);
    return;
  }
  switch (key) {
    case "display-name": spec.displayName = v; return;
    case "home":
      if (!path.isAbsolute(v)) throw badValue(`home must be an absolute path, got '${v}'`);
      spec.home = v;
      return;
    case "user": spec.user = v; return;
    case "group": spec.group = v; return;
    case "lang": spec.lang = v; return;
    case "locale": spec.locale = v; return;
    case "script-user":
    case "script-group":
      if ((key === "script-user" ? spec.scriptGroup : spec.scriptUser) !== undefined) throw badValue("only one of script-user and script-group may be set");
      if (key === "script-user") spec.scriptUser = v;
      else spec.scriptGroup = v;
      return;
    case "socket-user": spec.socketUser = v; return;
    case "python-home": spec.pythonHome = v; return;
    case "python-eggs": spec.pythonEggs = v; return;
    case "python-path": spec.pythonPath = v.split(":").filter((s) => s !== ""); return;
    case "supplementary-groups": spec.supplementaryGroups = v.split(",").filter((s) => s !== ""); return;
    case "umask":
      if (!/^0?[0-7]{1,4}$/.test(v)) throw badValue(`umask must be octal, got '${v}'`);
      spec.umask = parseInt(v, 8);
      return;
    case "switch-interval": spec.switchInterval = parseNumber(v, "switch-interval"); return;
    case "server-metrics": spec.serverMetrics = parseFlag(v, "server-metrics"); noticeIfNoEffect(key, scope); return;
    case "chroot": scope.notice("WSGIDaemonProcess: chroot= is ignored"); return;
    case "response-flush-delay": parseInteger(v, k, 0); noticeIfNoEffect(key, scope); return;
  }
}

/** Options mod_wsgi has that mean nothing for a Node process: accepted (configurations move over), but said so. */
const DAEMON_NO_EFFECT: Readonly<Record<string, string>> = {
  "stack-size": "there are no request threads (requests run on the event loop of a process's isolates); V8's --stack-size is a different limit",
  "send-buffer-size": "Node cannot set SO_SNDBUF on a Unix socket; the daemon socket's buffers are the system's defaults",
  "receive-buffer-size": "Node cannot set SO_RCVBUF on a Unix socket; the daemon socket's buffers are the system's defaults",
  "response-flush-delay": "responses are written as the application yields them, never held back to be coalesced",
  "server-metrics": "nodewsgi has no mod_wsgi.server_metrics() for applications to call",
};

function noticeIfNoEffect(key: string, scope: ApplyScope): void {
  const why = DAEMON_NO_EFFECT[key];
  if (why !== undefined) scope.notice(`WSGIDaemonProcess: ${key}= has no effect in nodewsgi: ${why}`);
}

/** Below this a Node process cannot start at all (V8 reserves its heap's address range up front). */
export const MIN_VIRTUAL_MEMORY_LIMIT = 2 * 1024 * 1024 * 1024;

function checkVirtualMemoryLimit(n: number): void {
  if (n !== 0 && n < MIN_VIRTUAL_MEMORY_LIMIT) {
    throw badValue(`virtual-memory-limit must be 0 or at least ${MIN_VIRTUAL_MEMORY_LIMIT} (2 GiB): V8 reserves more address space than that before an application loads, so a smaller limit would stop the process from starting; use memory-limit= to bound resident memory`);
  }
}

/** Lifecycle options that depend on another one which is off: said at load, not ignored silently. */
function noticeLifecycleWithoutEffect(spec: DaemonProcessSpec, scope: ApplyScope): void {
  if (spec.interruptTimeout > 0 && spec.requestTimeout === 0) {
    scope.notice(`WSGIDaemonProcess ${spec.name}: interrupt-timeout has no effect in nodewsgi without request-timeout (it applies to a request past request-timeout)`);
  }
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

// ---------------------------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------------------------

export const DIRECTIVES: readonly DirectiveSpec[] = [...table].sort((a, b) => a.name.localeCompare(b.name));
const byLower = new Map(DIRECTIVES.map((d) => [d.name.toLowerCase(), d]));

/** Directive (or section, without `<`) by name, case-insensitively. */
export function findDirective(name: string): DirectiveSpec | undefined {
  return byLower.get(name.toLowerCase());
}

/** Modules nodewsgi implements, as `<IfModule>` and LoadModule see them. */
const MODULES = ["core", "http_core", "so", "wsgi", "alias", "rewrite", "mime", "dir", "env", "setenvif", "headers", "log_config",
  "negotiation", "autoindex", "auth_basic", "auth_digest", "authn_file", "authn_core", "authz_core", "authz_host", "authz_user", "authz_groupfile", "access_compat", "unixd", "reqtimeout"];

export function isKnownModule(spec: string): boolean {
  const m = /^mod_([\w]+)\.c$/.exec(spec) ?? /^([\w]+)_module$/.exec(spec) ?? /^mod_([\w]+)$/.exec(spec);
  const base = m ? m[1]! : spec;
  return MODULES.includes(base.toLowerCase());
}
