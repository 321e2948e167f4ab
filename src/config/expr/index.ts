/** httpd's ap_expr: parsed once at configuration time (parser.ts), evaluated per request (evaluate.ts). */
export { parseExpr, ExprError, VARIABLES, FUNCTIONS } from "./parser";
export type { Expr, Cond, Word } from "./parser";
export { evaluateExpr, evaluateExprMatch, ExprEvalError } from "./evaluate";
export type { ExprRequest } from "./evaluate";
