/**
 * CustomLog's `expr=` condition (mod_log_config's condition_expr): evaluated when the request
 * is logged, so REQUEST_STATUS is the status sent and resp() reads the headers sent. A mapped
 * request reads as the map phase saw it; one the front end refused (or the site answered before
 * mapping) reads what its request line and headers give. Headers it reads are not added to Vary
 * (AP_EXPR_FLAG_DONT_VARY); one that cannot be evaluated does not log, as in httpd, which says so
 * in the error log (see AccessLog).
 */
import { evaluateExpr, ExprEvalError, type Expr, type ExprRequest } from "../config/expr";
import { mergedHeaderValue } from "../http/header-values";
import { splitTarget } from "../map/request-target";
import type { HeaderPair } from "../http/types";
import type { LogSubject } from "./log-format";

export function logConditionHolds(
  expr: Expr,
  r: LogSubject,
  mapped: ExprRequest | undefined,
  responseHeaders: readonly HeaderPair[],
  /** Told of an evaluation that failed (mod_log_config logs it). */
  failed?: (err: ExprEvalError) => void,
): boolean {
  const base = mapped ?? requestOnly(r);
  const ctx: ExprRequest = {
    remoteAddress: base.remoteAddress,
    header: base.header,
    reqenv: base.reqenv,
    ...(base.lookupUri ? { lookupUri: base.lookupUri } : {}),
    ...(base.lookupFile ? { lookupFile: base.lookupFile } : {}),
    variable: (name) => (name === "REQUEST_STATUS" ? String(r.status) : base.variable(name)),
    // The content type is not among the headers httpd's resp() reads.
    responseHeader: (name) => {
      const lower = name.toLowerCase();
      return lower === "content-type" ? undefined : responseHeaders.find(([n]) => n.toLowerCase() === lower)?.[1];
    },
  };
  try {
    return evaluateExpr(expr, ctx);
  } catch (err) {
    if (!(err instanceof ExprEvalError)) throw err;
    failed?.(err);
    return false;
  }
}

/** What a request that was never mapped offers: its request line, headers and client. */
function requestOnly(r: LogSubject): ExprRequest {
  const req = r.req;
  const { rawPath, query } = splitTarget(req.target);
  return {
    remoteAddress: req.remoteAddress,
    header: (name) => mergedHeaderValue(req.headers, name.toLowerCase()),
    reqenv: () => undefined,
    variable: (name) => {
      switch (name) {
        case "REQUEST_METHOD": return req.method;
        case "REQUEST_URI": return rawPath;
        case "QUERY_STRING": return query ?? "";
        case "THE_REQUEST": return r.requestLine ?? `${req.method} ${req.target} ${req.protocol}`;
        case "SERVER_PROTOCOL": return req.protocol;
        case "REMOTE_ADDR": return req.remoteAddress;
        case "REQUEST_SCHEME": return req.scheme;
        case "HTTPS": return req.scheme === "https" ? "on" : "off";
      }
      if (name.startsWith("HTTP_")) return mergedHeaderValue(req.headers, name.slice(5).toLowerCase().replace(/_/g, "-"));
      return "";
    },
  };
}
