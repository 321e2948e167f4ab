/**
 * mod_setenvif: `SetEnvIf`, `SetEnvIfNoCase` and `BrowserMatch` set request variables when an
 * attribute of the request matches a regular expression. The attribute is one of
 * Remote_Host, Remote_Addr, Server_Addr, Request_Method, Request_Protocol, Request_URI, else a
 * request header name, else a request variable set earlier. Values may use `$1`..`$9`.
 * Request_URI is the decoded URL-path, except for rules set outside any section: httpd runs
 * those in post_read_request, before decoding, so they see the path as it was sent.
 * `SetEnvIfExpr` conditions are ap_expr expressions over the request (setEnvIfExpr).
 */
import type { SetEnvIfRule } from "../config/model";
import { evaluateExprMatch, ExprEvalError, type Expr, type ExprRequest } from "../config/expr";
import type { ErrorLog } from "../log/error-log";
import { logExprFailure } from "./expr-context";
import type { MapRequest } from "./map-result";
import { splitTarget } from "./request-target";
import { mergedHeaderValue } from "../http/header-values";

export interface SetEnvIfRequest {
  readonly method: string;
  /** The request target as sent (Request_URI of rules set outside sections). */
  readonly target: string;
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** Flat lower-case `[name, value, ...]`. */
  readonly headers: readonly string[];
}

/**
 * SetEnvIfExpr's condition for this request: false, or true with the last regex match that had
 * a capturing group (null when none: the values are then taken as written).
 */
export type SetEnvIfExprTest = (expr: Expr) => false | { match: RegExpExecArray | null };

/** Apply `rules` in order to `env` (modified in place). `uri` is the decoded URL-path. */
export function applySetEnvIf(rules: readonly SetEnvIfRule[], req: SetEnvIfRequest, uri: string, env: Map<string, string>, exprTest?: SetEnvIfExprTest, early?: boolean): void {
  for (const rule of rules) {
    // httpd runs the server's rules in post_read_request and the sections' in header_parser.
    if (early !== undefined && rule.early !== early) continue;
    let m: RegExpExecArray | null;
    let plain = rule.plain;
    if (rule.expr !== undefined) {
      const hit = exprTest?.(rule.expr) ?? false;
      if (hit === false) continue;
      m = hit.match;
      if (m === null) plain = true;
    } else {
      // Absent is empty, so that "^$" matches a missing header, as in mod_setenvif.
      const subject = attributeValue(rule, req, rule.early ? splitTarget(req.target).rawPath : uri, env) ?? "";
      const re = rule.compiled.regexp;
      re.lastIndex = 0;
      m = re.exec(subject);
      if (!m) continue;
    }
    for (const a of rule.assignments) {
      if (a.startsWith("!")) {
        env.delete(a.slice(1));
        continue;
      }
      const eq = a.indexOf("=");
      const name = eq < 0 ? a : a.slice(0, eq);
      // A pattern without regex metacharacters is a plain substring search in httpd: its values
      // are taken as written. Otherwise ap_pregsub: `$N` is a group, `\\c` is `c`.
      const value = eq < 0 ? "1" : plain || m === null ? a.slice(eq + 1) : a.slice(eq + 1).replace(/\$(\d)|\\(.)/gs, (_, d: string | undefined, c: string | undefined) => (d !== undefined ? (m![Number(d)] ?? "") : c!));
      env.set(name, value);
    }
  }
}

function attributeValue(rule: SetEnvIfRule, req: SetEnvIfRequest, uri: string, env: ReadonlyMap<string, string>): string | undefined {
  const attribute = rule.attribute;
  switch (attribute.toLowerCase()) {
    case "remote_host":
    case "remote_addr":
      return req.remoteAddress;
    case "server_addr":
      return req.localAddress;
    case "request_method":
      return req.method;
    case "request_protocol":
      return req.protocol;
    case "request_uri":
      return uri;
  }
  const h = req.headers;
  if (rule.nameRegex !== undefined) {
    // A regex over header names: the last field whose name matches (names come lower-case
    // from the front ends, so the match ignores case).
    const re = rule.nameRegex.regexp;
    let last: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      re.lastIndex = 0;
      if (re.test(h[i]!)) last = h[i + 1];
    }
    return last;
  }
  return mergedHeaderValue(h, attribute.toLowerCase()) ?? env.get(attribute);
}

/** mod_setenvif's is_header_regex: an attribute with other characters than these is a regex over header names. */
export function isHeaderNameRegex(attribute: string): boolean {
  return !/^[-A-Za-z0-9_]*$/.test(attribute);
}

const METACHARACTERS = new Set([..."^.$|()[]*+?{}"]);

/**
 * mod_setenvif's non_regex_pattern: no metacharacter outside a backslash escape, and no escape
 * of an ordinary character (`\d` is regex syntax). Such a pattern is a substring search in
 * httpd, and its values are taken as written.
 */
export function isPlainPattern(pattern: string): boolean {
  let escaped = false;
  for (const c of pattern) {
    if (escaped) {
      if (c !== "\\" && !METACHARACTERS.has(c)) return false;
      escaped = false;
    } else if (c === "\\") {
      escaped = true;
    } else if (METACHARACTERS.has(c)) {
      return false;
    }
  }
  return true;
}

/** SetEnvIfExpr's condition over `ctx` (what the request presents to ap_expr); one that cannot be evaluated is logged and counts as false, as mod_setenvif does. */
export function setEnvIfExpr(expr: Expr, ctx: ExprRequest, log: ErrorLog, req: MapRequest): false | { match: RegExpExecArray | null } {
  try {
    const { value, match } = evaluateExprMatch(expr, ctx);
    return value ? { match } : false;
  } catch (err) {
    if (!(err instanceof ExprEvalError)) throw err;
    logExprFailure(log, req, "setenvif", expr, err);
    return false;
  }
}

/** Merged SetEnvIf rule lists with a SetEnvIfExpr among them (lists are made once per combination of sections). */
const setEnvIfExprLists = new WeakMap<readonly SetEnvIfRule[], boolean>();
export function hasSetEnvIfExpr(rules: readonly SetEnvIfRule[]): boolean {
  let has = setEnvIfExprLists.get(rules);
  if (has === undefined) {
    has = rules.some((r) => r.expr !== undefined);
    setEnvIfExprLists.set(rules, has);
  }
  return has;
}
