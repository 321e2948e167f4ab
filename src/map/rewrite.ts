/**
 * mod_rewrite, evaluated as Apache 2.4 does (modules/mappers/mod_rewrite.c): the rule list
 * (apply_rewrite_list / apply_rewrite_rule / apply_rewrite_cond / do_expand) and the two hooks
 * that use it: server context in the translate phase (hook_uri2file) and per-directory context
 * in the fixup phase (hook_fixup), which ends in an internal redirect the caller carries out by
 * re-processing the new URL (so per-dir rules, and server rules, run again on it).
 *
 * The caller owns the request: it supplies server variables and file tests through
 * RewriteContext, and applies the outcome (env, redirect, new URL, ...).
 */
import type { Expr } from "../config/expr";
import { DirectiveProblem } from "../config/errors";
import { parseRewriteCond, parseRewriteRule, type RewriteCondition, type RewriteRule } from "../config/rewrite-rule";
import { NodewsgiError } from "../errors";
import { atoi, type RuleFlags } from "../config/rewrite-flags";
import { CompileMapOptions, RewriteMap, RewriteMapSpec, compileRewriteMap } from "./rewrite-map";
import { toByteString } from "../engine/byte-string";
import { escapeAbsoluteUri, escapeBackref, escapeUriPath, hasCtlOrSpace, isAbsoluteUri } from "./rewrite-escape";

export type { RewriteMapSpec } from "./rewrite-map";

export interface ConfigWhere {
  readonly file: string;
  readonly line: number;
}

export interface RewriteCondSpec {
  readonly testString: string;
  readonly condPattern: string;
  /** The third argument as written (`[NC,OR]`), or undefined or "" when there is none. */
  readonly flags?: string | undefined;
  readonly where?: ConfigWhere;
}

export interface RewriteRuleSpec {
  readonly pattern: string;
  readonly substitution: string;
  /** The third argument as written (`[L,R=301]`), or undefined or "" when there is none. */
  readonly flags: string | undefined;
  /** The RewriteCond lines directly before this rule. */
  readonly conds: readonly RewriteCondSpec[];
  readonly where: ConfigWhere;
}

export interface CompileRewriteOptions extends CompileMapOptions {
  /** Per-directory context (`<Directory>` / .htaccess) rather than server context. */
  readonly perDir: boolean;
  /** Per-dir: the directory the rules belong to, a byte string (a trailing `/` is added as Apache does). */
  readonly directory?: string;
  /** Per-dir: RewriteBase, as configured (text). */
  readonly base?: string;
  /** The maps compiled already (compileRewriteMaps), shared by every context of a host; else `maps` are compiled for this one. */
  readonly compiledMaps?: ReadonlyMap<string, RewriteMap>;
}

type CompiledCond = RewriteCondition;
/** A rule as the configuration parsed it (src/config/rewrite-rule.ts): nothing is left to compile. */
type CompiledRule = RewriteRule;

/** Compiled rules of one context (the server, or one directory). */
export interface CompiledRewrite {
  readonly perDir: boolean;
  /** Per-dir: the directory with a trailing slash. */
  readonly directory: string | null;
  readonly base: string | null;
  readonly ruleCount: number;
  /** @internal */
  readonly rules: readonly CompiledRule[];
  /** @internal */
  readonly maps: ReadonlyMap<string, RewriteMap>;
  /**
   * Server context: the conditions that read more of the request than its URL-path, Host
   * header and listener (decided once, see readsOnlyPathAndHost); per-directory rules: null.
   * @internal
   */
  readonly requestReaders: ReadonlySet<RewriteCondition> | null;
  /**
   * Server context: the rules whose match leaves an outcome that depends on more than the
   * URL-path, Host header and listener, or on the request's query (decided once, see
   * rewritesOnlyByPathAndHost); per-directory rules: null.
   * @internal
   */
  readonly requestRules: ReadonlySet<RewriteRule> | null;
}

export interface RewriteFileInfo {
  readonly isFile: boolean;
  readonly isDir: boolean;
  readonly size: number;
  /** The path itself is a symbolic link (lstat); the other fields follow the link. */
  readonly isSymlink: boolean;
  /** Any execute bit set (for -x); treated as false when absent. */
  readonly isExecutable?: boolean;
}

export interface RewriteContext {
  /** r->uri: the decoded, normalised URL-path of this request. */
  readonly uri: string;
  /** r->args: the query string without `?`, null when the request had none. */
  readonly query: string | null;
  /** Per-dir: r->filename after the directory walk (no PATH_INFO). Server context: unused. */
  readonly filename?: string | undefined;
  /** Per-dir: r->path_info. */
  readonly pathInfo?: string | null;
  /**
   * A server variable by Apache's name: `DOCUMENT_ROOT`, `SERVER_NAME`, `SERVER_PORT`,
   * `REQUEST_SCHEME`, `HTTPS`, `REMOTE_ADDR`, `THE_REQUEST`, `REQUEST_METHOD`, ...,
   * `HTTP:Header-Name` (a request header, "" when absent), `ENV:name` (the request's env),
   * `SSL:name`. Names other than `HTTP:`/`ENV:`/`SSL:` come upper-cased. REQUEST_URI,
   * REQUEST_FILENAME, SCRIPT_FILENAME, QUERY_STRING, PATH_INFO, IS_SUBREQ and TIME* are
   * answered here from the rewrite state and never asked.
   */
  variable(name: string): string;
  /**
   * `RewriteCond expr`: the expression's value and its last regex match with a group; null
   * when it cannot be evaluated. `novary`: the [NV] flag (no Vary for headers it reads).
   */
  expr?(expr: Expr, novary: boolean): { value: boolean; match: RegExpExecArray | null } | null;
  /** File test for -f -s -d -l -x (and -F, -U when not given below): null when absent. */
  stat(path: string): RewriteFileInfo | null;
  /** -U: the status a subrequest for this URL-path would get. Default: DOCUMENT_ROOT + url exists. */
  lookupUri?(url: string): number;
  /** -F: the status a subrequest for this file would get. Default: -f. */
  lookupFile?(path: string): number;
  /** Per-dir: FollowSymLinks or SymLinksIfOwnerMatch is on (Apache refuses per-dir rules with 403 otherwise). Default true. */
  readonly followSymLinks?: boolean;
  /** Subrequest: rules with NS or R are skipped. */
  readonly isSubrequest?: boolean;
  /**
   * A subrequest's main request URL-path, when known: -U and -F then run for a URL-path other
   * than it (mod_rewrite's subreq_ok); without it a subrequest does no lookups.
   */
  readonly mainUri?: string | undefined;
  /** A rule with END matched earlier in this request (before an internal redirect). */
  readonly endSeen?: boolean;
  /** Server context after an internal redirect: REDIRECT_SCRIPT_URL, which SCRIPT_URL keeps. */
  readonly redirectScriptUrl?: string | null;
  /** Whether `host:port` names this server (reduce_uri). Default: host equals SERVER_NAME and port SERVER_PORT. */
  matchesServer?(host: string, port: number): boolean;
  /** Clock for %{TIME*} (local time). Default: new Date(). */
  now?(): Date;
}

/** What happened besides the outcome kind: applies to every outcome. */
export interface RewriteEffects {
  /** Environment changes in order: [name, value] sets, [name, null] unsets (E=!name). */
  readonly env: ReadonlyArray<readonly [string, string | null]>;
  /** T=: forced content type (lower-cased), applied in the type-checker phase. */
  readonly forcedType: string | null;
  /** H=: forced handler (lower-cased). */
  readonly forcedHandler: string | null;
  /** Header names to merge into the response's Vary (from conditions on HTTP headers). */
  readonly vary: readonly string[];
  /** CO= cookie specs, expanded (not turned into Set-Cookie headers: see the report). */
  readonly cookies: readonly string[];
  /** END matched: no more rewriting for this request, including after an internal redirect. */
  readonly end: boolean;
  /**
   * Server context: every condition evaluated read only the URL-path, the Host header, the
   * listener (address, port, scheme, and SERVER_NAME/SERVER_PORT worked out from them) or
   * constants, every rule that matched qualifies (rewritesOnlyByPathAndHost: it leaves the
   * query the request's own), and the outcome is no file path (prefix_stat reads the disk).
   * Any request with that path, Host and listener gets the same outcome, with its own query: a
   * route plan may skip the rules (src/map/route-plan.ts).
   */
  readonly onlyPathAndHost: boolean;
}

export type RewriteOutcome = RewriteEffects & RewriteOutcomeKind;

/** What the rules decided, by kind. */
export type RewriteOutcomeKind =
    /** Nothing to do: carry on mapping the request as it is. `query` may still have changed. */
    | { readonly kind: "none"; readonly query: string | null }
    /** Server context, [PT]: carry on translating (Alias, WSGIScriptAlias, ...) with this URL-path. */
    | { readonly kind: "uri"; readonly uri: string; readonly query: string | null }
    /**
     * Server context, no [PT]: the request maps to this filesystem path (DocumentRoot already
     * prefixed when Apache would); mod_alias and other translators are skipped.
     */
    | { readonly kind: "file"; readonly filename: string; readonly query: string | null }
    /**
     * Per-dir: re-process the request internally for `url` (a raw request-target, `path?query`,
     * that Apache %-decodes again), with the REDIRECT_* environment of an internal redirect.
     */
    | { readonly kind: "internal-redirect"; readonly url: string; readonly path: string; readonly query: string | null }
    /** External redirect. */
    | { readonly kind: "redirect"; readonly status: number; readonly location: string }
    /** Answer with this status (F 403, G 410, R=4xx/5xx, 500 on a runaway loop, 400, ...). */
    | { readonly kind: "status"; readonly status: number; readonly reason: string };

const MAX_FILENAME = 2 * 8190; // 2 * LimitRequestLine: Apache's guard against runaway rules

function fail(where: ConfigWhere | undefined, msg: string): never {
  const at = where ? `${where.file}:${where.line}: ` : "";
  throw new NodewsgiError("E_REWRITE", `${at}${msg}`);
}

/**
 * Rules given as text (tests, tools): each parsed as the configuration parses its lines
 * (src/config/rewrite-rule.ts), then compiled. Throws NodewsgiError E_REWRITE with `file:line`
 * on a bad flag, regex or map.
 */
export function compileRewriteRules(
  rules: readonly RewriteRuleSpec[],
  maps: readonly RewriteMapSpec[],
  options: CompileRewriteOptions,
): CompiledRewrite {
  return compileRewrite(rules.map(parseRuleSpec), maps, options);
}

function parseRuleSpec(spec: RewriteRuleSpec): RewriteRule {
  const conds = spec.conds.map((c) => {
    const where = c.where ?? spec.where;
    return asRewriteError(where, "RewriteCond", c.condPattern, () => parseRewriteCond(c.testString, c.condPattern, c.flags || undefined, where));
  });
  return asRewriteError(spec.where, "RewriteRule", spec.pattern, () => parseRewriteRule(spec.pattern, spec.substitution, spec.flags || undefined, conds, spec.where));
}

/** A configuration problem as this API has always worded it: `file:line: Directive: ...`. */
function asRewriteError<T>(where: ConfigWhere, directive: string, pattern: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof DirectiveProblem)) throw e;
    const p = pattern.startsWith("!") ? pattern.slice(1) : pattern;
    fail(where, `${directive}: ${e.code === "E_CONFIG_REGEX" ? `cannot compile regular expression '${p}': ` : ""}${e.message}`);
  }
}

/**
 * One context's rules (in configuration order, parsed with the configuration) with the
 * server's maps, for the server or one directory. Throws NodewsgiError E_REWRITE on a bad map.
 */
export function compileRewrite(
  rules: readonly RewriteRule[],
  maps: readonly RewriteMapSpec[],
  options: CompileRewriteOptions,
): CompiledRewrite {
  const compiledMaps = options.compiledMaps ?? compileRewriteMaps(maps, options);
  let directory: string | null = null;
  if (options.perDir) {
    if (!options.directory) throw new NodewsgiError("E_REWRITE", "per-directory rewrite rules need their directory");
    directory = options.directory.endsWith("/") ? options.directory : options.directory + "/";
  }
  let base: string | null = null;
  if (options.base !== undefined) {
    if (!options.perDir) throw new NodewsgiError("E_REWRITE", "RewriteBase: only valid in per-directory config files");
    if (options.base === "") throw new NodewsgiError("E_REWRITE", "RewriteBase: empty URL not allowed");
    if (!options.base.startsWith("/")) throw new NodewsgiError("E_REWRITE", "RewriteBase: argument is not a valid URL");
    // A byte string, like the URL-paths it is put back on (the configuration's is text).
    base = toByteString(options.base);
  }
  const requestReaders = options.perDir ? null : new Set(rules.flatMap((r) => r.conditions.filter((c) => !readsOnlyPathAndHost(c))));
  const requestRules = options.perDir ? null : new Set(rules.filter((r) => !rewritesOnlyByPathAndHost(r)));
  return { perDir: options.perDir, directory, base, ruleCount: rules.length, rules, maps: compiledMaps, requestReaders, requestRules };
}

/**
 * lookup_variable's names whose value is the URL-path (REQUEST_URI), what earlier rules made
 * of it (REQUEST_FILENAME and SCRIPT_FILENAME in server context: a function of the path where
 * those rules qualify, rewritesOnlyByPathAndHost; PATH_INFO, empty there), the Host header,
 * the listener and what SERVER_NAME/SERVER_PORT are
 * worked out from, or a constant of the server (IS_SUBREQ is one for a main request, and for
 * PATH_TRANSLATED's subrequest). Everything else (other headers, QUERY_STRING, the method,
 * the client, the protocol, TIME*, ENV:, SSL:, LA-U:, unknown names) reads the request or
 * the clock, or is not worth proving constant.
 */
const PATH_HOST_VARIABLES = new Set([
  "REQUEST_URI", "REQUEST_FILENAME", "SCRIPT_FILENAME", "PATH_INFO", "IS_SUBREQ",
  "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SERVER_ADDR", "HTTPS", "REQUEST_SCHEME",
  "DOCUMENT_ROOT", "CONTEXT_DOCUMENT_ROOT", "CONTEXT_PREFIX", "SERVER_ADMIN", "SERVER_SOFTWARE", "API_VERSION",
]);

function pathHostVariable(varName: string): boolean {
  // `HTTP:Host` as lookupVariable reads it (the prefix in any case, the name too).
  if (varName[4] === ":") return varName.slice(0, 4).toUpperCase() === "HTTP" && varName.slice(5).toLowerCase() === "host";
  return varName.length >= 4 && varName[3] !== ":" && PATH_HOST_VARIABLES.has(varName.toUpperCase());
}

/**
 * A condition whose outcome is a function of the URL-path, the Host header and the listener:
 * a regex, string or integer test of a TestString that expands only such variables, `$N`,
 * `%N` and literal text (scanned as `expand` reads it). File tests and -U/-F lookups read the
 * disk or a subrequest, `expr` the request, and a `${map:key}` lookup a map that can change
 * (txt and dbm files) or answer differently each time (prg, rnd): never.
 */
export function readsOnlyPathAndHost(c: RewriteCondition): boolean {
  switch (c.test) {
    case "-f": case "-s": case "-l": case "-d": case "-x": case "-U": case "-F": case "expr":
      return false;
  }
  return expandsOnlyPathAndHost(c.testString);
}

/**
 * A server-context rule whose match leaves the outcome a function of the URL-path, the Host
 * header and the listener, with the request's own query: its substitution, E=, T= and H= expand
 * only such variables, `$N`, `%N` (a condition's; conditions are judged on their own) and
 * literal text; no RewriteMap (txt and rnd maps change or pick at random; `int:` ones are pure
 * but not worth telling apart), no CO= (a Set-Cookie a plan would not send), no [R], [F], [G]
 * or [P] (no application request follows), no [N] (rounds are not worth proving). The query
 * stays the request's: no `?` in the substitution (a `\?` ends up in the URL too, which
 * splitout_queryargs splits), no QSA, QSD or QSL, no UnsafeAllow3F (a `?` from a back-reference
 * would split the query off the path).
 */
export function rewritesOnlyByPathAndHost(r: RewriteRule): boolean {
  const f = r.flags;
  if (f.redirect !== null || f.statusOnly || f.proxy || f.next || f.cookies.length > 0) return false;
  if (f.qsAppend || f.qsDiscard || f.qsLast || f.qsNone || f.unsafeAllow3F || r.output.includes("?")) return false;
  return expandsOnlyPathAndHost(r.output) && f.env.every(expandsOnlyPathAndHost) && expandsOnlyPathAndHost(f.type ?? "") && expandsOnlyPathAndHost(f.handler ?? "");
}

/** `expand`'s input reads only path/Host/listener variables, back-references and literal text (no map). */
function expandsOnlyPathAndHost(input: string): boolean {
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch === "\\") {
      i++;
      continue;
    }
    if ((ch === "%" || ch === "$") && input[i + 1] === "{") {
      const end = findClosingCurly(input, i + 2);
      if (end < 0) {
        i++;
        continue;
      }
      if (ch === "$" || !pathHostVariable(input.slice(i + 2, end))) return false;
      i = end;
    }
  }
  return true;
}

/**
 * A context's maps by name (a later definition of a name wins). `shared` holds maps compiled
 * before, by definition: each map, with its txt cache, is compiled once however many contexts
 * and hosts use it. Throws NodewsgiError E_REWRITE with the map's `file:line` on a bad map.
 */
export function compileRewriteMaps(maps: readonly RewriteMapSpec[], options: CompileMapOptions, shared?: WeakMap<RewriteMapSpec, RewriteMap>): Map<string, RewriteMap> {
  const compiled = new Map<string, RewriteMap>();
  for (const spec of maps) {
    let map = shared?.get(spec);
    if (map === undefined) {
      try {
        map = compileRewriteMap(spec, options);
      } catch (e) {
        fail(spec.where, (e as Error).message);
      }
      shared?.set(spec, map);
    }
    compiled.set(spec.name, map);
  }
  return compiled;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** mod_rewrite's subreq_ok: not a subrequest, or one for another URL-path than its main request's. */
function subrequestMayLookUp(ctx: RewriteContext): boolean {
  return !ctx.isSubrequest || (ctx.mainUri !== undefined && ctx.mainUri !== ctx.uri);
}

const enum Rc {
  NoMatch,
  Match,
  NoSub,
  StatusSet,
}
const enum Action {
  None = 0,
  Normal = 1,
  NoEscape = 2,
  Status = 4,
  StatusSet = 8,
}

/** The request state the rules read and write: r->filename, r->args, r->path_info, r->status, ... */
interface State {
  readonly c: CompiledRewrite;
  readonly ctx: RewriteContext;
  readonly perdir: string | null;
  filename: string;
  args: string | null;
  pathInfo: string | null;
  status: number;
  statusReason: string;
  env: Array<[string, string | null]>;
  envNow: Map<string, string | null>;
  forcedType: string | null;
  forcedHandler: string | null;
  cookies: string[];
  end: boolean;
  uriReduced: boolean;
  vary: string[];
  varyThis: string[] | null;
  ruleVary: string[] | null;
  /** Back-references: the rule's match ($N) and the last matching condition's (%N). */
  briRR: RegExpExecArray | null;
  briRC: RegExpExecArray | null;
  /**
   * A condition in c.requestReaders was evaluated, a rule in c.requestRules matched, or the
   * outcome is a file path: the outcome is not RewriteEffects.onlyPathAndHost.
   */
  readRequest: boolean;
}

function lookupHeader(st: State, name: string): string {
  const v = st.ctx.variable("HTTP:" + name);
  if (v !== "" && name.toLowerCase() !== "host") (st.varyThis ??= []).push(name);
  return v;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

const PASSED_VARIABLES = new Set([
  "IPV6", "HTTPS", "AUTH_TYPE", "SERVER_NAME", "REMOTE_ADDR", "SERVER_ADDR", "THE_REQUEST",
  "API_VERSION", "SERVER_PORT", "REMOTE_HOST", "REMOTE_PORT", "REMOTE_USER", "SCRIPT_USER",
  "SCRIPT_GROUP", "REMOTE_IDENT", "SERVER_ADMIN", "DOCUMENT_ROOT", "CONTEXT_PREFIX",
  "REQUEST_METHOD", "REQUEST_SCHEME", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "CONN_REMOTE_ADDR",
  "CONTEXT_DOCUMENT_ROOT",
]);
const HEADER_VARIABLES: Record<string, string> = {
  HTTP_HOST: "Host", HTTP_ACCEPT: "Accept", HTTP_COOKIE: "Cookie", HTTP_REFERER: "Referer",
  HTTP_FORWARDED: "Forwarded", HTTP_USER_AGENT: "User-Agent", HTTP_PROXY_CONNECTION: "Proxy-Connection",
};

/** lookup_variable: `%{NAME}`. */
function lookupVariable(st: State, varName: string): string {
  if (varName.length < 4) return "";
  if (varName[3] === ":") {
    const prefix = varName.slice(0, 3).toUpperCase();
    const rest = varName.slice(4);
    if (rest && prefix === "ENV") {
      const own = st.envNow.get(rest);
      if (own !== undefined) return own ?? "";
      return st.ctx.variable("ENV:" + rest);
    }
    if (rest && prefix === "SSL") return st.ctx.variable("SSL:" + rest);
    return "";
  }
  if (varName[4] === ":") {
    const prefix = varName.slice(0, 4).toUpperCase();
    const rest = varName.slice(5);
    if (!rest) return "";
    if (prefix === "HTTP") return lookupHeader(st, rest);
    // Look-aheads need a subrequest; approximated by the current request's value.
    if (prefix === "LA-U" || prefix === "LA-F") return lookupVariable(st, rest);
    return "";
  }
  const name = varName.toUpperCase();
  const now = () => (st.ctx.now ? st.ctx.now() : new Date());
  switch (name) {
    case "TIME": {
      const t = now();
      return `${pad(t.getFullYear(), 4)}${pad(t.getMonth() + 1)}${pad(t.getDate())}${pad(t.getHours())}${pad(t.getMinutes())}${pad(t.getSeconds())}`;
    }
    case "TIME_YEAR": return pad(now().getFullYear(), 4);
    case "TIME_MON": return pad(now().getMonth() + 1);
    case "TIME_DAY": return pad(now().getDate());
    case "TIME_HOUR": return pad(now().getHours());
    case "TIME_MIN": return pad(now().getMinutes());
    case "TIME_SEC": return pad(now().getSeconds());
    case "TIME_WDAY": return String(now().getDay());
    case "IS_SUBREQ": return st.ctx.isSubrequest ? "true" : "false";
    case "PATH_INFO": return st.pathInfo ?? "";
    case "REQUEST_URI": return st.ctx.uri;
    case "QUERY_STRING": return st.args ?? "";
    case "REQUEST_FILENAME":
    case "SCRIPT_FILENAME": return st.filename;
    case "HTTPS": return st.ctx.variable("HTTPS") === "on" ? "on" : "off";
  }
  const header = HEADER_VARIABLES[name];
  if (header) return lookupHeader(st, header);
  if (PASSED_VARIABLES.has(name)) return st.ctx.variable(name);
  return "";
}

function findClosingCurly(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === "}" && --depth === 0) return i;
    if (s[i] === "{") depth++;
  }
  return -1;
}

function findCharInCurlies(s: string, from: number, ch: string): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === ch && depth === 1) return i;
    if (s[i] === "}" && --depth === 0) return -1;
    if (s[i] === "{") depth++;
  }
  return -1;
}

interface QmarkTrack {
  /** -1 none seen, 0 first (or last with QSL) `?` literal, 1 it came from an expansion. */
  value: number;
  done: boolean;
  last: boolean;
}

/** do_expand: `\c`, `%{VAR}`, `${map:key|default}`, `$N`, `%N`, in one pass. */
function expand(st: State, input: string, rule: CompiledRule | null, q: QmarkTrack | null): string {
  let out = "";
  const note = (v: number) => {
    if (!q || q.done) return;
    q.value = v;
    if (!q.last) q.done = true;
  };
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (ch === "\\") {
      if (i + 1 >= input.length) {
        out += "\\";
        break;
      }
      out += input[i + 1];
      i += 2;
      continue;
    }
    if ((ch === "%" || ch === "$") && input[i + 1] === "{") {
      const end = findClosingCurly(input, i + 2);
      if (end < 0) {
        out += input.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (ch === "%") {
        const v = lookupVariable(st, input.slice(i + 2, end));
        if (v.includes("?")) note(1);
        out += v;
        i = end + 1;
        continue;
      }
      const colon = findCharInCurlies(input, i + 2, ":");
      if (colon < 0) {
        out += "${";
        i += 2;
        continue;
      }
      const mapName = input.slice(i + 2, colon);
      const inner = input.slice(colon + 1, end);
      const bar = findCharInCurlies(inner + "}", 0, "|");
      const keySrc = bar < 0 ? inner : inner.slice(0, bar);
      const dflt = bar < 0 ? null : inner.slice(bar + 1);
      const map = st.c.maps.get(mapName);
      let v = map ? map.lookup(expand(st, keySrc, rule, null)) : null;
      if (v === null && dflt) v = expand(st, dflt, rule, null);
      if (v) {
        if (v.includes("?")) note(1);
        out += v;
      }
      i = end + 1;
      continue;
    }
    if ((ch === "$" || ch === "%") && i + 1 < input.length && /[0-9]/.test(input[i + 1]!)) {
      const n = input.charCodeAt(i + 1) - 48;
      const m = ch === "$" ? st.briRR : st.briRC;
      const g = m ? m[n] : undefined;
      if (g) {
        const f = rule?.flags;
        const v = f && f.escapeBackrefs
          ? escapeBackref(g, { escapeChars: f.escapeChars, noEscapeChars: f.noEscapeChars, noPlus: f.escapeNoPlus, ctls: f.escapeCtls })
          : g;
        if (v.includes("?")) note(1);
        out += v;
      }
      i += 2;
      continue;
    }
    if (ch === "?") note(0);
    out += ch;
    i++;
  }
  return out;
}

function statOf(st: State, p: string): RewriteFileInfo | null {
  try {
    return st.ctx.stat(p);
  } catch {
    return null;
  }
}

/** `a` and `b` are byte strings (the expanded test string and the converted pattern). */
function compareBytes(a: string, b: string): number {
  const x = Buffer.from(a, "latin1");
  const y = Buffer.from(b, "latin1");
  if (x.length !== y.length) return x.length > y.length ? 1 : -1; // Apache compares length first
  return Buffer.compare(x, y);
}

function strcasecmp(a: string, b: string): number {
  const lower = (s: string) => s.replace(/[A-Z]+/g, (t) => t.toLowerCase());
  return Buffer.compare(Buffer.from(lower(a), "latin1"), Buffer.from(lower(b), "latin1"));
}

/** apply_rewrite_cond. */
function applyCond(st: State, c: CompiledCond): boolean {
  const input = c.test === "expr" ? "" : expand(st, c.testString, null, null);
  let rc = false;
  switch (c.test) {
    case "expr": {
      // An expression that cannot be evaluated does not match; its last regex match with a group gives %N.
      const r = st.ctx.expr?.(c.expr!, c.flags.novary) ?? null;
      rc = r !== null && r.value;
      if (rc && !c.negated) st.briRC = r!.match;
      break;
    }
    case "-f": rc = !!statOf(st, input)?.isFile; break;
    case "-s": { const s = statOf(st, input); rc = !!s && s.isFile && s.size > 0; break; }
    case "-l": rc = !!statOf(st, input)?.isSymlink; break;
    case "-d": rc = !!statOf(st, input)?.isDir; break;
    case "-x": rc = !!statOf(st, input)?.isExecutable; break;
    case "-U":
      if (input && subrequestMayLookUp(st.ctx)) {
        if (st.ctx.lookupUri) rc = st.ctx.lookupUri(input) < 400;
        else {
          const root = st.ctx.variable("DOCUMENT_ROOT").replace(/\/$/, "");
          rc = statOf(st, root + input) !== null;
        }
      }
      break;
    case "-F":
      if (input && subrequestMayLookUp(st.ctx)) {
        rc = st.ctx.lookupFile ? st.ctx.lookupFile(input) < 300 && statOf(st, input) !== null : !!statOf(st, input)?.isFile;
      }
      break;
    case ">": case ">=": case "<": case "<=": {
      const cmp = c.flags.nocase ? strcasecmp(input, c.pattern) : compareBytes(input, c.pattern);
      rc = c.test === ">" ? cmp >= 1 : c.test === ">=" ? cmp >= 0 : c.test === "<" ? cmp <= -1 : cmp <= 0;
      break;
    }
    case "=":
      rc = c.flags.nocase ? strcasecmp(input, c.pattern) === 0 : input === c.pattern;
      break;
    case "-ge": rc = atoi(input) >= atoi(c.pattern); break;
    case "-gt": rc = atoi(input) > atoi(c.pattern); break;
    case "-le": rc = atoi(input) <= atoi(c.pattern); break;
    case "-lt": rc = atoi(input) < atoi(c.pattern); break;
    case "-eq": rc = atoi(input) === atoi(c.pattern); break;
    case "regex": {
      const re = c.compiled!.regexp;
      re.lastIndex = 0;
      const m = re.exec(input);
      rc = m !== null;
      if (m && !c.negated) st.briRC = m;
      break;
    }
  }
  return c.negated ? !rc : rc;
}

function forceTypeHandler(st: State, rule: CompiledRule): void {
  if (rule.flags.type !== null) {
    const t = expand(st, rule.flags.type, rule, null);
    if (t) st.forcedType = t.toLowerCase();
  }
  if (rule.flags.handler !== null) {
    const h = expand(st, rule.flags.handler, rule, null);
    if (h) st.forcedHandler = h.toLowerCase();
  }
}

function expandEnv(st: State, rule: CompiledRule): void {
  for (const spec of rule.flags.env) {
    const name = expand(st, spec, null, null);
    if (name.startsWith("!")) {
      st.env.push([name.slice(1), null]);
      st.envNow.set(name.slice(1), null);
    } else {
      const colon = name.indexOf(":");
      const k = colon < 0 ? name : name.slice(0, colon);
      const v = colon < 0 ? "" : name.slice(colon + 1);
      st.env.push([k, v]);
      st.envNow.set(k, v);
    }
  }
  for (const spec of rule.flags.cookies) st.cookies.push(expand(st, spec, null, null));
}

function defaultPort(st: State): number {
  return st.ctx.variable("REQUEST_SCHEME").toLowerCase() === "https" ? 443 : 80;
}

function serverUrlPrefix(st: State): string {
  const scheme = st.ctx.variable("REQUEST_SCHEME") || "http";
  let name = st.ctx.variable("SERVER_NAME");
  if (name.includes(":") && !name.startsWith("[")) name = `[${name}]`; // IPv6 literal
  const port = parseInt(st.ctx.variable("SERVER_PORT"), 10);
  const portPart = !Number.isFinite(port) || port === defaultPort(st) ? "" : `:${port}`;
  return `${scheme}://${name}${portPart}`;
}

/** fully_qualify_uri. */
function fullyQualify(st: State): void {
  if (st.ctx.variable("REQUEST_METHOD") === "CONNECT") return;
  if (!isAbsoluteUri(st.filename).len) {
    st.filename = serverUrlPrefix(st) + (st.filename.startsWith("/") ? "" : "/") + st.filename;
  }
}

/** reduce_uri: `http://ourhost[:port]/path` becomes `/path`. */
function reduceUri(st: State): void {
  const scheme = (st.ctx.variable("REQUEST_SCHEME") || "http").toLowerCase();
  const f = st.filename;
  const l = scheme.length;
  if (!(f.length > l + 3 && f.slice(0, l).toLowerCase() === scheme && f.slice(l, l + 3) === "://")) return;
  let cp = l + 3;
  const hostStart = cp;
  while (cp < f.length && f[cp] !== "/" && f[cp] !== ":") cp++;
  const host = f.slice(hostStart, cp);
  let port: number;
  let url: string;
  if (f[cp] === ":") {
    const portStart = ++cp;
    while (cp < f.length && f[cp] !== "/") cp++;
    port = atoi(f.slice(portStart, cp)) & 0xffff;
    url = f.slice(cp) || "/";
  } else if (f[cp] === "/") {
    port = defaultPort(st);
    url = f.slice(cp);
  } else {
    port = defaultPort(st);
    url = "/";
  }
  const matches = st.ctx.matchesServer
    ? st.ctx.matchesServer(host, port)
    : host.toLowerCase() === st.ctx.variable("SERVER_NAME").toLowerCase() &&
      port === (parseInt(st.ctx.variable("SERVER_PORT"), 10) || defaultPort(st));
  if (matches) {
    st.filename = url;
    st.uriReduced = true;
  }
}

/** splitout_queryargs. */
function splitQuery(st: State, f: RuleFlags): void {
  if (f.qsNone) {
    st.args = null;
    return;
  }
  const abs = isAbsoluteUri(st.filename);
  if (abs.len && !abs.query) {
    st.args = null;
    return;
  }
  if (f.qsDiscard) st.args = null;
  const q = f.qsLast ? st.filename.lastIndexOf("?") : st.filename.indexOf("?", abs.len);
  if (q < abs.len || q < 0) return;
  const query = st.filename.slice(q + 1);
  st.filename = st.filename.slice(0, q);
  if (f.qsAppend) {
    if (query) st.args = st.args === null ? query + "&" : `${query}&${st.args}`;
  } else {
    st.args = query;
  }
  if (st.args !== null) {
    if (st.args === "") st.args = null;
    else if (st.args.endsWith("&")) st.args = st.args.slice(0, -1);
  }
}

/** apply_rewrite_rule. */
function applyRule(st: State, rule: CompiledRule): Rc {
  let uri = st.filename;
  if (st.perdir) {
    if (st.pathInfo) uri += st.pathInfo;
    if (uri.startsWith(st.perdir)) uri = uri.slice(st.perdir.length);
  }
  const re = rule.compiled.regexp;
  re.lastIndex = 0;
  const m = re.exec(uri);
  if (!m !== rule.negated) return Rc.NoMatch;

  st.varyThis = null;
  st.briRC = null;
  st.briRR = rule.negated ? null : m;

  const conds = rule.conditions;
  for (let i = 0; i < conds.length; i++) {
    let c = conds[i]!;
    if (st.c.requestReaders?.has(c)) st.readRequest = true;
    const rc = applyCond(st, c);
    if (c.flags.novary) st.varyThis = null;
    if (c.flags.ornext) {
      if (!rc) {
        st.varyThis = null;
        continue;
      }
      while (i < conds.length && c.flags.ornext) c = conds[++i] ?? c;
    } else if (!rc) {
      return Rc.NoMatch;
    }
    const varyThis = st.varyThis as string[] | null; // set by lookups inside applyCond
    if (varyThis) {
      (st.ruleVary ??= []).push(...varyThis);
      st.varyThis = null;
    }
  }

  let newuri = "";
  const f = rule.flags;
  if (!f.noSub) {
    const q: QmarkTrack | null = f.unsafeAllow3F ? null : { value: -1, done: false, last: f.qsLast };
    newuri = expand(st, rule.output, rule, q);
    if (q && q.value > 0) {
      st.status = 403;
      st.statusReason = "a '?' from a back-reference or variable in the substitution (UnsafeAllow3F not set)";
      return Rc.StatusSet;
    }
  }
  expandEnv(st, rule);

  if (f.noSub) {
    forceTypeHandler(st, rule);
    if (f.statusOnly) {
      st.status = f.status;
      st.statusReason = `RewriteRule flag forced status ${f.status}`;
    }
    return Rc.NoSub;
  }

  let prefixAdded = false;
  if (!newuri.startsWith("/") && !isAbsoluteUri(newuri).len) {
    if (st.perdir) {
      newuri = st.perdir + newuri;
      prefixAdded = true;
    } else if (!f.proxy && f.redirect === null) {
      newuri = "/" + newuri;
      prefixAdded = true;
    }
  }
  st.filename = newuri;
  if (st.perdir && f.discardPathInfo) st.pathInfo = null;
  splitQuery(st, f);

  if (f.proxy) {
    fullyQualify(st);
    st.filename = "proxy:" + st.filename;
    return Rc.Match;
  }
  if (f.redirect !== null) {
    fullyQualify(st);
    st.status = f.status;
    return Rc.Match;
  }
  reduceUri(st);
  if (isAbsoluteUri(st.filename).len) {
    st.status = f.status;
    return Rc.Match;
  }
  if (!(f.unc || prefixAdded) && !rule.output.startsWith("//")) {
    st.filename = st.filename.replace(/^\/+(?=\/)/, "");
  }
  forceTypeHandler(st, rule);
  return Rc.Match;
}

/** apply_rewrite_list: returns the Action and the last rule that substituted. */
function applyList(st: State): { action: number; lastsub: CompiledRule | null } {
  const rules = st.c.rules;
  let changed = Action.None;
  let lastsub: CompiledRule | null = null;
  let round = 1;
  loop: for (;;) {
    for (let i = 0; i < rules.length; i++) {
      let p = rules[i]!;
      if (st.ctx.isSubrequest && (p.flags.noSubreq || p.flags.redirect !== null)) continue;
      st.ruleVary = null;
      const rc = applyRule(st, p);
      if (rc !== Rc.NoMatch) {
        if (st.c.requestRules?.has(p)) st.readRequest = true;
        if (!p.flags.noSub) lastsub = p;
        if (st.filename.length > MAX_FILENAME) {
          st.status = 500;
          st.statusReason = `RewriteRule '${p.pattern}' made the URL longer than ${MAX_FILENAME}`;
          return { action: Action.Status, lastsub };
        }
        const ruleVary = st.ruleVary as string[] | null; // set inside applyRule
        if (ruleVary) for (const h of ruleVary) if (!st.vary.includes(h)) st.vary.push(h);
        if (rc === Rc.StatusSet) return { action: Action.StatusSet, lastsub };
        if (p.flags.statusOnly) return { action: Action.Status, lastsub };
        if (rc !== Rc.NoSub) changed = p.flags.noEscape ? Action.NoEscape : Action.Normal;
        if (p.flags.passThrough) {
          st.filename = "passthrough:" + st.filename;
          changed = Action.Normal;
          break loop;
        }
        if (p.flags.end) {
          st.end = true;
          break loop;
        }
        if (p.flags.proxy || p.flags.last) break loop;
        if (p.flags.next) {
          if (++round >= p.flags.maxRounds) {
            st.status = 500;
            st.statusReason = `RewriteRule '${p.pattern}' exceeded the maximum number of rounds (${p.flags.maxRounds}) via [N]`;
            return { action: Action.Status, lastsub };
          }
          continue loop;
        }
        if (p.flags.skip > 0) i = Math.min(rules.length, i + p.flags.skip);
      } else {
        while (i < rules.length && p.flags.chain) {
          i++;
          p = rules[i] ?? p;
          if (i >= rules.length) break;
        }
      }
    }
    break;
  }
  return { action: changed, lastsub };
}

function newState(c: CompiledRewrite, ctx: RewriteContext, filename: string, pathInfo: string | null): State {
  return {
    c, ctx, perdir: c.directory, filename, args: ctx.query, pathInfo, status: 200, statusReason: "",
    env: [], envNow: new Map(), forcedType: null, forcedHandler: null, cookies: [], end: false,
    uriReduced: false, vary: [], varyThis: null, ruleVary: null, briRR: null, briRC: null,
    readRequest: false,
  };
}

/**
 * The outcome with the effects: built by adding to one object, as `{ ...effects(st), kind }`
 * costs V8 (Node 20) about 3 µs a time (a new hidden class per object).
 */
function outcome(st: State, kind: RewriteOutcomeKind): RewriteOutcome {
  return Object.assign(effects(st), kind);
}

function effects(st: State): RewriteEffects {
  return {
    env: st.env, forcedType: st.forcedType, forcedHandler: st.forcedHandler, vary: st.vary,
    cookies: st.cookies, end: st.end,
    onlyPathAndHost: st.c.requestReaders !== null && !st.readRequest,
  };
}

/** The redirect response once the rules left an absolute URL in r->filename. */
function redirectOutcome(st: State, action: number, schemeLen: number, oargs: string | null): RewriteOutcome {
  let location = action !== Action.NoEscape ? escapeAbsoluteUri(st.filename, schemeLen) : st.filename;
  if (st.args !== null) {
    const noescape = action === Action.NoEscape || (oargs !== null && st.args === oargs);
    location += "?" + (noescape ? st.args : escapeUriPath(st.args));
  }
  const status = st.status >= 300 && st.status <= 399 ? st.status : 302;
  return outcome(st, { kind: "redirect", status, location });
}

function statusOutcome(st: State, status: number, reason: string): RewriteOutcome {
  return outcome(st, { kind: "status", status, reason });
}

/** The first checks both hooks make once a rule changed something. */
function commonVerdict(st: State, action: number): RewriteOutcome | null {
  const abs = isAbsoluteUri(st.filename);
  const willEscape = abs.len > 0 && action !== Action.NoEscape;
  if (st.args !== null && !willEscape && hasCtlOrSpace(st.args)) {
    return statusOutcome(st, 403, "rewritten query string contains control characters or spaces");
  }
  if (action === Action.Status || action === Action.StatusSet) return statusOutcome(st, st.status, st.statusReason);
  if (st.filename.startsWith("proxy:")) {
    return statusOutcome(st, 403, "RewriteRule [P] needs mod_proxy, which nodewsgi does not have");
  }
  return null;
}

/** prefix_stat: does the first path segment exist, and may the rule use it as a file path? */
function prefixStat(st: State, path: string, lastsub: CompiledRule | null): boolean {
  const m = /^\/+([^/]*)/.exec(path);
  if (!m) return false;
  // apr_filepath_merge takes `.` and `..` at the root to the root itself.
  const statpath = m[1] === "." || m[1] === ".." ? "/" : "/" + m[1];
  if (!statOf(st, statpath)) return false;
  if (!lastsub || lastsub.flags.unsafePrefixStat) return true;
  const docroot = st.ctx.variable("DOCUMENT_ROOT");
  const ctxroot = st.ctx.variable("CONTEXT_DOCUMENT_ROOT") || docroot;
  return (
    lastsub.output.startsWith(statpath) ||
    (docroot !== "" && path.startsWith(docroot)) ||
    (ctxroot !== docroot && ctxroot !== "" && path.startsWith(ctxroot))
  );
}

/** subst_prefix_path: replace the directory prefix `match` of `input` with `subst`; null when it does not match. */
function substPrefixPath(input: string, match: string, subst: string): string | null {
  let len = match.length;
  if (len && match.endsWith("/")) len--;
  if (input.startsWith(match.slice(0, len)) && input[len] === "/") {
    len++;
    let prefix = subst;
    if (prefix && !prefix.endsWith("/")) prefix += "/";
    return prefix + input.slice(len);
  }
  return null;
}

function serverContext(c: CompiledRewrite, ctx: RewriteContext): RewriteOutcome {
  const none = (st: State): RewriteOutcome => outcome(st, { kind: "none", query: st.args });
  const st0 = newState(c, ctx, ctx.uri, null);
  if (ctx.endSeen) return none(st0);
  if (!ctx.uri.startsWith("/")) return none(st0);

  // SCRIPT_URL / SCRIPT_URI: set whenever the server-level engine runs.
  const scriptUrl = ctx.isSubrequest ? null : ctx.redirectScriptUrl ?? ctx.uri;
  const st = st0;
  if (scriptUrl !== null) {
    st.env.push(["SCRIPT_URL", scriptUrl]);
    st.env.push(["SCRIPT_URI", serverUrlPrefix(st) + scriptUrl]);
  }
  const oargs = ctx.query;
  const { action, lastsub } = applyList(st);
  if (!action) return none(st);
  const verdict = commonVerdict(st, action);
  if (verdict) return verdict;
  const abs = isAbsoluteUri(st.filename);
  if (abs.len) return redirectOutcome(st, action, abs.len, oargs);
  if (st.filename.startsWith("passthrough:")) {
    return outcome(st, { kind: "uri", uri: st.filename.slice("passthrough:".length), query: st.args });
  }
  if (!st.filename.startsWith("/")) return statusOutcome(st, 400, "rewritten to a relative path");
  let filename = st.filename;
  // prefix_stat reads the disk: no plan repeats this outcome.
  st.readRequest = true;
  if (!prefixStat(st, filename, lastsub) || st.uriReduced) {
    // ap_core_translate: DocumentRoot + the path, as for any URL.
    filename = st.ctx.variable("DOCUMENT_ROOT").replace(/\/+$/, "") + filename;
  }
  return outcome(st, { kind: "file", filename, query: st.args });
}

function perDirContext(c: CompiledRewrite, ctx: RewriteContext): RewriteOutcome {
  const dir = c.directory!;
  const ofilename = ctx.filename ?? null;
  const st = newState(c, ctx, ofilename ?? ctx.uri, ctx.pathInfo ?? null);
  const none = (): RewriteOutcome => outcome(st, { kind: "none", query: st.args });
  // A request for the directory itself without its slash is left to mod_dir's redirect.
  if (ofilename !== null && ofilename === dir.slice(0, -1)) return none();
  if (ctx.endSeen) return none();
  if (ctx.followSymLinks === false) {
    return statusOutcome(st, 403, "per-directory RewriteRule needs Options FollowSymLinks or SymLinksIfOwnerMatch");
  }
  const oargs = ctx.query;
  const { action } = applyList(st);
  if (!action) return none();
  const verdict = commonVerdict(st, action);
  if (verdict) return verdict;
  const abs = isAbsoluteUri(st.filename);
  if (abs.len) {
    if (c.base !== null) {
      // Replace the directory in the redirect's path with RewriteBase.
      const slash = st.filename.indexOf("/", abs.len);
      if (slash >= 0 && slash + 1 < st.filename.length) {
        const cp = st.filename.slice(slash + 1);
        const cp2 = substPrefixPath(cp, dir.startsWith("/") ? dir.slice(1) : dir, c.base.slice(1));
        if (cp2 !== null && cp2 !== cp) st.filename = st.filename.slice(0, slash + 1) + cp2;
      }
    }
    return redirectOutcome(st, action, abs.len, oargs);
  }
  if (st.filename.startsWith("passthrough:")) st.filename = st.filename.slice("passthrough:".length);
  if (!st.filename.startsWith("/")) return statusOutcome(st, 400, "rewritten to a relative path");
  if (ofilename !== null && st.filename === ofilename) return none();

  const before = st.filename;
  let path = before;
  let replaced = false;
  if (c.base !== null) {
    const sub = substPrefixPath(before, dir, c.base);
    if (sub !== null) {
      path = sub;
      replaced = true;
    }
  } else {
    const docroot = ctx.variable("DOCUMENT_ROOT");
    if (docroot) {
      const root = docroot.endsWith("/") ? docroot.slice(0, -1) : docroot;
      if (before.startsWith(root) && before[root.length] === "/") {
        path = before.slice(root.length);
        replaced = true;
      }
    }
  }
  if (!replaced) {
    const ctxroot = ctx.variable("CONTEXT_DOCUMENT_ROOT") || ctx.variable("DOCUMENT_ROOT");
    const sub = ctxroot ? substPrefixPath(path, ctxroot, ctx.variable("CONTEXT_PREFIX")) : null;
    if (sub !== null) path = sub;
  }
  const url = path + (st.args !== null ? "?" + st.args : "");
  return outcome(st, { kind: "internal-redirect", url, path, query: st.args });
}

/** Run one context's rules against a request. Never throws for a request; bad config throws at compile. */
export function applyRewrite(compiled: CompiledRewrite, ctx: RewriteContext): RewriteOutcome {
  return compiled.perDir ? perDirContext(compiled, ctx) : serverContext(compiled, ctx);
}
