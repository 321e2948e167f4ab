/**
 * What ap_expr evaluations need beyond the expression: mod_headers' condition test and value
 * evaluator over a request's ExprRequest (./expr-request.ts builds that), the error-log lines httpd
 * writes for an expression that fails, and the TIME variables.
 */
import { evaluateExpr, evaluateString, ExprEvalError, type Expr, type ExprRequest, type StringExpr } from "../config/expr";
import type { HeaderRuleContext } from "../http/header-rules";
import { mergedHeaderValue } from "../http/header-values";
import type { ErrorLog } from "../log/error-log";
import { requestLogPrefix } from "../log/request-id";
import type { MapRequest } from "./map-result";

/** ap_expr_exec's own line for an expression that failed: where it was written, and why. */
export function logExprFailure(log: ErrorLog, req: MapRequest, module: string, expr: Expr | StringExpr, err: Error): void {
  const at = expr.where ? `${expr.where.file}:${expr.where.line}` : expr.source;
  log.log("error", module, `${requestLogPrefix(req)}Evaluation of expression from ${at} failed: ${err.message}`);
}

/** mod_headers' value expressions over `base`; one that fails is logged (AH02557) and "". */
export function headerExprValue(base: ExprRequest, log: ErrorLog, req: MapRequest): NonNullable<HeaderRuleContext["exprValue"]> {
  return (expr, response) => {
    try {
      return evaluateString(expr, response === null ? base : withStatus(base, response.status));
    } catch (err) {
      if (!(err instanceof ExprEvalError)) throw err;
      logExprFailure(log, req, "headers", expr, err);
      log.log("error", "headers", `${requestLogPrefix(req)}AH02557: Can't evaluate value expression: ${err.message}`);
      return "";
    }
  };
}

/**
 * `base` reading the request's fields as RequestHeader left them (`headers`, flat, names
 * lower-case): what httpd's r->headers_in holds once mod_headers' fixup has run, for the
 * expressions of Header rules and CustomLog conditions.
 */
export function withEditedFields(base: ExprRequest, headers: readonly string[]): ExprRequest {
  return {
    ...base,
    header: (name) => mergedHeaderValue(headers, name.toLowerCase()),
    variable: (name) => (name.startsWith("HTTP_") ? mergedHeaderValue(headers, name.slice(5).toLowerCase().replace(/_/g, "-")) : base.variable(name)),
  };
}

/** What header rules with expressions need: the condition test and the value evaluator. */
export function exprContext(base: ExprRequest, log: ErrorLog, req: MapRequest): Pick<HeaderRuleContext, "expr" | "exprValue"> {
  return { expr: headerExprTest(base, log, req), exprValue: headerExprValue(base, log, req) };
}

/**
 * mod_headers' expr= test over `base`, with resp() reading the response's headers so far; an
 * evaluation error is logged (AH01501) and null, so the rule applies anyway.
 */
export function headerExprTest(base: ExprRequest, log: ErrorLog, req: MapRequest): NonNullable<HeaderRuleContext["expr"]> {
  return (expr, response) => {
    // httpd keeps the content type in r->content_type, not among the headers resp() reads.
    // The request headers it reads go into the response's Vary once it has been evaluated (not
    // when it fails, as ap_expr_exec_ctx); value expressions name none (httpd's string evaluation).
    const varied: string[] = [];
    const r: ExprRequest = response === null ? base : {
      ...withStatus(base, response.status),
      responseHeader: (name) => (name.toLowerCase() === "content-type" ? undefined : response.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]),
      vary: (name) => varied.push(name),
    };
    try {
      const holds = evaluateExpr(expr, r);
      for (const name of varied) response!.vary(name);
      return holds;
    } catch (err) {
      if (!(err instanceof ExprEvalError)) throw err;
      logExprFailure(log, req, "headers", expr, err);
      log.log("error", "headers", `${requestLogPrefix(req)}AH01501: Failed to evaluate expression (${err.message}) - ignoring`);
      return null;
    }
  };
}

/** `base` with REQUEST_STATUS the response's status (a Header rule runs on the response). */
function withStatus(base: ExprRequest, status: number): ExprRequest {
  const text = String(status);
  return { ...base, variable: (name) => (name === "REQUEST_STATUS" ? text : base.variable(name)) };
}

/** TIME, TIME_YEAR, ... of ap_expr: local time, zero-padded as httpd prints them. */
export function timeVariable(name: string, d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  switch (name) {
    case "TIME_YEAR": return String(d.getFullYear());
    case "TIME_MON": return p(d.getMonth() + 1);
    case "TIME_DAY": return p(d.getDate());
    case "TIME_HOUR": return p(d.getHours());
    case "TIME_MIN": return p(d.getMinutes());
    case "TIME_SEC": return p(d.getSeconds());
    case "TIME_WDAY": return String(d.getDay());
  }
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

