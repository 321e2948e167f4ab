/**
 * mod_headers: `RequestHeader` edits the request's headers before the application sees them;
 * `Header` edits the response's. As in httpd, a response has two header tables: the one the
 * content (application, static file) fills, which `onsuccess` rules edit, and the one
 * `always` rules edit, sent first. A page the server makes for an error or a redirect (httpd's
 * ap_send_error_response) keeps only the second: `onsuccess` rules do not apply there, while an
 * application's own 404 or 500 gets both. Rules apply in configuration order; `env=[!]VAR`
 * makes a rule conditional on a request variable.
 */
import type { HeaderDirective } from "../config/model";
import type { Expr, StringExpr } from "../config/expr";
import { formatHeaderValue, parseHeaderFormat, type FormatContext, type FormatPart } from "./header-format";
import type { HeaderPair, ResponseSink } from "./types";
import { wrapSink } from "./sink-wrapper";
import { withMergedVary } from "./vary";

export interface HeaderRuleContext extends FormatContext {
  /** Request headers, flat lower-case `[name, value, ...]` (for `echo`). */
  readonly requestHeaders: readonly string[];
  /** Where `Header note` puts its notes (for the access log's `%{NAME}n`). */
  readonly notes?: Map<string, string>;
  /**
   * `expr=` conditions: the expression's value, the response so far at hand for `resp()` and
   * REQUEST_STATUS (none for request headers); null when it could not be evaluated.
   */
  readonly expr?: (expr: Expr, response: ResponseView | null) => boolean | null;
  /** A value written `expr=...`: its text for this request ("" when it cannot be evaluated, as httpd). */
  readonly exprValue?: (expr: StringExpr, response: ResponseView | null) => string;
  /**
   * The response is a static file's: its 206 is made by httpd's byterange filter, which runs
   * after mod_headers' (rules see the 200 it started as).
   */
  readonly byteRanges?: boolean;
}

/** What a response rule's expressions read of the response: its status and headers so far. */
export interface ResponseView {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  /**
   * A request header a condition read: ap_expr merges its name into the response's Vary
   * (r->headers_out) at once, so later rules see it there (`Header unset Vary` removes it).
   */
  readonly vary: (name: string) => void;
}

type Table = [string, string][];

/** The rules of one kind, in order (`early` ones run with the others). */
export function rulesOf(rules: readonly HeaderDirective[] | undefined, which: "Header" | "RequestHeader"): HeaderDirective[] {
  return rules ? rules.filter((r) => r.directive === which) : [];
}

/** RequestHeader: a new flat header list (names lower-case, as the front ends give them). */
export function applyRequestHeaderRules(rules: readonly HeaderDirective[], headers: readonly string[], ctx: HeaderRuleContext): string[] {
  const table: Table = [];
  for (let i = 0; i < headers.length; i += 2) table.push([headers[i]!, headers[i + 1]!]);
  for (const rule of rules) if (conditionHolds(rule, ctx, null)) applyRule(rule, table, ctx, null, null);
  const out: string[] = [];
  for (const [n, v] of table) out.push(n.toLowerCase(), v);
  return out;
}

/**
 * Header: the response headers after the rules. `errorPage` is true for the server's own
 * error and redirect pages, which only `always` rules touch. `status` is the response's, which
 * expressions read as REQUEST_STATUS.
 */
export function applyResponseHeaderRules(rules: readonly HeaderDirective[], errorPage: boolean, headers: readonly HeaderPair[], ctx: HeaderRuleContext, status = 200): HeaderPair[] {
  const out: Table = headers.map(([n, v]) => [n, v]);
  const err: Table = [];
  let varied = false;
  // resp() sees headers_out, then err_headers_out. (Made only for rules with expressions.)
  const response = (): ResponseView => ({
    status,
    headers: [...out, ...err],
    vary: (name) => {
      out.push(["Vary", name]);
      varied = true;
    },
  });
  for (const rule of rules) if (rule.condition === "always" && conditionHolds(rule, ctx, response)) applyRule(rule, err, ctx, out, response);
  if (!errorPage) for (const rule of rules) if (rule.condition !== "always" && conditionHolds(rule, ctx, response)) applyRule(rule, out, ctx, out, response);
  const sent = err.length === 0 ? out : [...err, ...out];
  // httpd's fixup_vary then makes the Vary fields one (only conditions that read a header add any here).
  return varied ? [...withMergedVary(sent)] : sent;
}

type ResponseAt = (() => ResponseView) | null;

function conditionHolds(rule: HeaderDirective, ctx: HeaderRuleContext, response: ResponseAt): boolean {
  // mod_headers applies a rule whose expression fails to evaluate (AH01501 "- ignoring" the failure).
  if (rule.expr !== undefined) return ctx.expr?.(rule.expr, response ? response() : null) ?? true;
  const env = ctx.env;
  const extra = rule.extra;
  if (!extra || !/^env=/i.test(extra)) return true;
  const spec = extra.slice(4);
  return spec.startsWith("!") ? !env.has(spec.slice(1)) : env.has(spec);
}

const formats = new WeakMap<HeaderDirective, readonly FormatPart[]>();

function valueOf(rule: HeaderDirective, ctx: HeaderRuleContext, response: ResponseAt): string {
  if (rule.valueExpr !== undefined) return ctx.exprValue?.(rule.valueExpr, response ? response() : null) ?? "";
  let parts = formats.get(rule);
  if (parts === undefined) {
    const parsed = parseHeaderFormat(rule.value ?? "");
    // The directive was checked when the configuration was read.
    parts = typeof parsed === "string" ? [rule.value ?? ""] : parsed;
    formats.set(rule, parts);
  }
  return formatHeaderValue(parts, ctx);
}

/**
 * One rule on `table`. `content` is the content's table (null for request headers): setting or
 * editing Content-Type changes the response's content type there, whichever table the rule
 * edits, as mod_headers calls ap_set_content_type.
 */
function applyRule(rule: HeaderDirective, table: Table, ctx: HeaderRuleContext, content: Table | null, response: ResponseAt): void {
  const name = rule.header;
  const lname = name.toLowerCase();
  const first = () => table.findIndex(([n]) => n.toLowerCase() === lname);
  switch (rule.action) {
    case "set": {
      const v = valueOf(rule, ctx, response);
      if (content !== null && lname === "content-type" && table !== content) setFirst(content, name, lname, v);
      else setFirst(table, name, lname, v);
      return;
    }
    case "setifempty":
      // httpd's test is for a header that is absent: an empty value stays.
      if (first() < 0) table.push([name, valueOf(rule, ctx, response)]);
      return;
    case "append": {
      const v = valueOf(rule, ctx, response);
      const i = first();
      if (i < 0) table.push([name, v]);
      else table[i]![1] += ", " + v;
      return;
    }
    case "merge": {
      const v = valueOf(rule, ctx, response);
      const i = first();
      if (i < 0) table.push([name, v]);
      else if (!hasToken(table[i]![1], v)) table[i]![1] += ", " + v;
      return;
    }
    case "add":
      table.push([name, valueOf(rule, ctx, response)]);
      return;
    case "unset":
      removeAll(table, lname);
      return;
    case "echo": {
      // A regex over the request's header names. The front ends give names lower-case:
      // they are echoed in their usual capitalisation.
      const re = echoRegex(rule);
      const h = ctx.requestHeaders;
      for (let i = 0; i < h.length; i += 2) if (re.test(h[i]!)) table.push([capitalise(h[i]!), h[i + 1]!]);
      return;
    }
    case "edit":
    case "edit*": {
      const re = new RegExp(rule.compiled?.jsSource ?? "", rule.action === "edit*" ? "gs" : "s");
      const replacement = apacheReplacement(rule.replacement ?? "");
      if (content !== null && lname === "content-type" && table !== content) {
        const i = content.findIndex(([n]) => n.toLowerCase() === lname);
        if (i >= 0) content[i]![1] = content[i]![1].replace(re, replacement);
      }
      // Edited values move to the end, as mod_headers unsets and re-adds them.
      const edited: Table = [];
      for (let i = table.length - 1; i >= 0; i--) {
        if (table[i]![0].toLowerCase() === lname) edited.unshift([table[i]![0], table[i]![1].replace(re, replacement)]), table.splice(i, 1);
      }
      table.push(...edited);
      return;
    }
    case "note": {
      const i = first();
      if (i >= 0 && ctx.notes) ctx.notes.set(valueOf(rule, ctx, response), table[i]![1]);
      return;
    }
  }
}

/** apr_table_set: the first field takes the value, the others go. */
function setFirst(table: Table, name: string, lname: string, value: string): void {
  const i = table.findIndex(([n]) => n.toLowerCase() === lname);
  if (i < 0) {
    table.push([name, value]);
    return;
  }
  table[i]![1] = value;
  for (let j = table.length - 1; j > i; j--) if (table[j]![0].toLowerCase() === lname) table.splice(j, 1);
}

function removeAll(table: Table, lname: string): void {
  for (let i = table.length - 1; i >= 0; i--) if (table[i]![0].toLowerCase() === lname) table.splice(i, 1);
}

/** Whether a comma-separated value already holds `token` (quoted strings kept whole). */
function hasToken(value: string, token: string): boolean {
  let i = 0;
  while (i < value.length) {
    while (i < value.length && /\s/.test(value[i]!)) i++;
    const start = i;
    while (i < value.length && value[i] !== ",") {
      if (value[i++] === '"') while (i < value.length) if (value[i++] === '"') break;
    }
    if (value.slice(start, i) === token) return true;
    i++;
  }
  return false;
}

const echoRegexes = new WeakMap<HeaderDirective, RegExp>();
function echoRegex(rule: HeaderDirective): RegExp {
  let re = echoRegexes.get(rule);
  if (re === undefined) echoRegexes.set(rule, (re = new RegExp(rule.header, "i")));
  return re;
}

function capitalise(lname: string): string {
  return lname.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/** Apache's `$1` / `\1` back-references to JavaScript's `$1`; a literal `$` stays literal. */
function apacheReplacement(r: string): string {
  return r.replace(/\$(?!\d)/g, "$$$$").replace(/\\(\d)/g, "$$$1");
}

/**
 * A ResponseSink that applies `Header` rules to whatever response goes through it, at the
 * moment the head is written: `writeErrorHead` for the server's own error pages.
 */
export function withResponseHeaderRules(sink: ResponseSink, rules: readonly HeaderDirective[], ctx: HeaderRuleContext): ResponseSink {
  return wrapSink(sink, {
    writeHead: (status, reason, headers) => sink.writeHead(status, reason, applyResponseHeaderRules(rules, false, headers, ctx, status === 206 && ctx.byteRanges ? 200 : status)),
    writeErrorHead: (status, reason, headers) => sink.writeHead(status, reason, applyResponseHeaderRules(rules, true, headers, ctx, status)),
  });
}
