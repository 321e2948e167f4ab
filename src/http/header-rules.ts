/**
 * mod_headers: `RequestHeader` edits the request's headers before the application sees them;
 * `Header` edits the response's, for static files and applications alike. Rules apply in
 * configuration order; `env=[!]VAR` makes a rule conditional on a request variable.
 * Values may use `%{VAR}e` (a request variable), `%{NAME}i` (a request header, for Header),
 * `%D` and `%t` (request duration and start, as mod_headers) and `%%`.
 */
import type { HeaderDirective } from "../config/model";
import type { HeaderPair, ResponseSink } from "./types";

export interface HeaderRuleContext {
  /** Request variables (SetEnv, SetEnvIf, rewrite E=). */
  readonly env: ReadonlyMap<string, string>;
  /** Request headers, flat lower-case `[name, value, ...]` (for `echo` and `%{...}i`). */
  readonly requestHeaders: readonly string[];
  /** Request start, in µs since the epoch (for `%t`), and now (for `%D`). */
  readonly startMicros: number;
}

/** The rules of one kind, in order. */
export function rulesOf(rules: readonly HeaderDirective[] | undefined, which: "Header" | "RequestHeader"): HeaderDirective[] {
  return rules ? rules.filter((r) => r.directive === which) : [];
}

/** RequestHeader: a new flat header list (names lower-case, as the front ends give them). */
export function applyRequestHeaderRules(rules: readonly HeaderDirective[], headers: readonly string[], ctx: HeaderRuleContext): string[] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
  for (const rule of rules) {
    if (!conditionHolds(rule, ctx.env)) continue;
    applyRule(rule, pairs, ctx, true);
  }
  const out: string[] = [];
  for (const [n, v] of pairs) out.push(n.toLowerCase(), v);
  return out;
}

/**
 * Header: the response headers after the rules. `onsuccess` rules (the default) apply to 2xx
 * and 3xx responses only, `always` rules to every response, as mod_headers' two tables.
 */
export function applyResponseHeaderRules(rules: readonly HeaderDirective[], status: number, headers: readonly HeaderPair[], ctx: HeaderRuleContext): HeaderPair[] {
  const pairs: [string, string][] = headers.map(([n, v]) => [n, v]);
  const success = status >= 200 && status < 400;
  for (const rule of rules) {
    if (rule.condition !== "always" && !success) continue;
    if (!conditionHolds(rule, ctx.env)) continue;
    applyRule(rule, pairs, ctx, false);
  }
  return pairs;
}

function conditionHolds(rule: HeaderDirective, env: ReadonlyMap<string, string>): boolean {
  const extra = rule.extra;
  if (!extra || !/^env=/i.test(extra)) return true;
  const spec = extra.slice(4);
  return spec.startsWith("!") ? !env.has(spec.slice(1)) : env.has(spec);
}

function applyRule(rule: HeaderDirective, pairs: [string, string][], ctx: HeaderRuleContext, request: boolean): void {
  const name = rule.header;
  const lname = name.toLowerCase();
  const find = () => pairs.findIndex(([n]) => n.toLowerCase() === lname);
  const value = () => expand(rule.value ?? "", ctx, request);
  switch (rule.action) {
    case "set": {
      removeAll(pairs, lname);
      pairs.push([name, value()]);
      return;
    }
    case "setifempty": {
      const i = find();
      if (i < 0) pairs.push([name, value()]);
      else if (pairs[i][1] === "") pairs[i][1] = value();
      return;
    }
    case "append": {
      const i = find();
      if (i < 0) pairs.push([name, value()]);
      else pairs[i][1] += ", " + value();
      return;
    }
    case "merge": {
      const v = value();
      const i = find();
      if (i < 0) pairs.push([name, v]);
      else if (!pairs[i][1].split(",").some((t) => t.trim() === v)) pairs[i][1] += ", " + v;
      return;
    }
    case "add":
      pairs.push([name, value()]);
      return;
    case "unset":
      removeAll(pairs, lname);
      return;
    case "echo": {
      // The value is a regex over request header names: copy those that match.
      const re = new RegExp(name, "i");
      const h = ctx.requestHeaders;
      for (let i = 0; i < h.length; i += 2) if (re.test(h[i])) pairs.push([h[i], h[i + 1]]);
      return;
    }
    case "edit":
    case "edit*": {
      // Header values are bytes: the pattern is translated as every configuration regex is.
      const source = rule.compiled?.jsSource ?? "";
      const re = new RegExp(source, rule.action === "edit*" ? "gs" : "s");
      const replacement = apacheReplacement(rule.replacement ?? "");
      for (const p of pairs) if (p[0].toLowerCase() === lname) p[1] = p[1].replace(re, replacement);
      return;
    }
    case "note":
      return;
  }
}

function removeAll(pairs: [string, string][], lname: string): void {
  for (let i = pairs.length - 1; i >= 0; i--) if (pairs[i][0].toLowerCase() === lname) pairs.splice(i, 1);
}

/** Apache's `$1` / `\1` back-references to JavaScript's `$1`; a literal `$` stays literal. */
function apacheReplacement(r: string): string {
  return r.replace(/\$(?!\d)/g, "$$$$").replace(/\\(\d)/g, "$$$1");
}

function expand(format: string, ctx: HeaderRuleContext, request: boolean): string {
  if (!format.includes("%")) return format;
  return format.replace(/%(?:\{([^}]*)\}([ei])|([Dt%]))/g, (m, name: string | undefined, kind: string | undefined, simple: string | undefined) => {
    if (simple === "%") return "%";
    if (simple === "D") return `D=${Math.max(0, Math.round(Date.now() * 1000 - ctx.startMicros))}`;
    if (simple === "t") return `t=${Math.round(ctx.startMicros)}`;
    if (kind === "e") return ctx.env.get(name!) ?? "(null)";
    if (kind === "i" && !request) {
      const h = ctx.requestHeaders;
      const lname = name!.toLowerCase();
      for (let i = 0; i < h.length; i += 2) if (h[i] === lname) return h[i + 1];
      return "(null)";
    }
    return m;
  });
}

/**
 * A ResponseSink that applies `Header` rules to whatever response goes through it (static
 * file, application, error page), at the moment the head is written.
 */
export function withResponseHeaderRules(sink: ResponseSink, rules: readonly HeaderDirective[], ctx: HeaderRuleContext): ResponseSink {
  return {
    get aborted() {
      return sink.aborted;
    },
    onAbort: (cb) => sink.onAbort(cb),
    writeHead: (status, reason, headers) => sink.writeHead(status, reason, applyResponseHeaderRules(rules, status, headers, ctx)),
    write: (chunk) => sink.write(chunk),
    drain: () => sink.drain(),
    end: (chunk) => sink.end(chunk),
    destroy: () => sink.destroy(),
  };
}
