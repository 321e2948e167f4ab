/**
 * ap_if_walk: the `<If>`, `<ElseIf>` and `<Else>` sections that apply to a request, merged over
 * its located settings last, as httpd merges them after the location walk.
 */
import type { DirSettings, IfSection } from "../config/model";
import { effectiveOptions, mergeDirSettings, resolveEnv } from "../config/model";
import { evaluateExpr, ExprEvalError, type ExprRequest } from "../config/expr";
import type { ErrorLog } from "../log/error-log";
import { requestLogPrefix } from "../log/request-id";
import { logExprFailure } from "./expr-context";
import { handlerFor } from "./locate";
import type { MapRequest } from "./map-result";
import type { Located } from "./route-cache";

/**
 * ap_if_walk: each <If>/<ElseIf>/<Else> in order (an else-branch only when the branches
 * before it in its chain did not apply), the applying ones merged over the settings, then
 * the <If> sections nested in those, level by level. The result is this request's alone.
 */
export function withIfSections(loc: Located, ctx: ExprRequest, log: ErrorLog, req: MapRequest): Located {
  const settings = mergeIfSections(loc.settings, ctx, log, req);
  const { translated, walk, isDir } = loc;
  return { ...loc, settings, options: effectiveOptions(settings), handler: handlerFor(translated, settings, isDir, walk.filename), env: resolveEnv(settings.env), plan: undefined };
}

/** `settings` with the <If> sections it carries evaluated and the applying ones merged over it (without ifSections). */
export function mergeIfSections(base: DirSettings, ctx: ExprRequest, log: ErrorLog, req: MapRequest): DirSettings {
  let settings: DirSettings = { ...base };
  delete settings.ifSections;
  let list: readonly IfSection[] | undefined = base.ifSections;
  while (list !== undefined && list.length > 0) {
    const nested: IfSection[] = [];
    let previous: boolean | null = null;
    for (const section of list) {
      if (section.kind !== "If" && previous === true) continue;
      if (section.expr !== undefined) {
        if (!condition(section, ctx, log, req)) {
          previous = false;
          continue;
        }
        previous = true;
      } else previous = null;
      const { ifSections, ...own } = section.settings;
      settings = mergeDirSettings(settings, own);
      if (ifSections) nested.push(...ifSections);
    }
    list = nested;
  }
  return settings;
}

/** An <If>'s condition; one that cannot be evaluated is logged and counts as false (AH00039). */
function condition(section: IfSection, ctx: ExprRequest, log: ErrorLog, req: MapRequest): boolean {
  try {
    return evaluateExpr(section.expr!, ctx);
  } catch (err) {
    if (!(err instanceof ExprEvalError)) throw err;
    logExprFailure(log, req, "core", section.expr!, err);
    log.log("error", "core", `${requestLogPrefix(req)}AH00039: Failed to evaluate <If > condition: ${err.message}`);
    return false;
  }
}
