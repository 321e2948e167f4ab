/** httpd's ap_expr: parsed once at configuration time (parser.ts), evaluated per request (evaluate.ts). */
export { parseExpr, parseStringExpr, ExprError, VARIABLES, FUNCTIONS } from "./parser";
export type { Expr, StringExpr, Cond, Word } from "./parser";
export { evaluateExpr, evaluateExprMatch, evaluateString, ExprEvalError } from "./evaluate";
export type { ExprRequest } from "./evaluate";
