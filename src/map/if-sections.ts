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
 * How many of httpd's walks of a request a walk here stands for, as to the <If> sections at
 * server level and in <Location> (IfSection.early): httpd 2.4.71 runs ap_if_walk three times
 * per request and subrequest (before it checks the URL for encoded slashes, before translating
 * it, after mapping it), and logs a condition that fails to evaluate each time; an <If> in a
 * <Directory> or <Files> is only in the last. The early walk here (only for configurations that
 * need it) stands for the first two; the last walk for all three when there was none.
 */
export const EARLY_WALK_PASSES = 2;
export const lateWalkPasses = (earlyWalked: boolean): number => (earlyWalked ? 1 : 3);

/**
 * ap_if_walk: each <If>/<ElseIf>/<Else> in order (an else-branch only when the branches
 * before it in its chain did not apply), the applying ones merged over the settings, then
 * the <If> sections nested in those, level by level. The result is this request's alone.
 * `passes`: see lateWalkPasses.
 */
export function withIfSections(loc: Located, ctx: ExprRequest, log: ErrorLog, req: MapRequest, passes: number): Located {
  const settings = mergeIfSections(loc.settings, ctx, log, req, passes);
  const { translated, walk, isDir } = loc;
  return { ...loc, settings, options: effectiveOptions(settings), handler: handlerFor(translated, settings, isDir, walk.filename), env: resolveEnv(settings.env) };
}

/**
 * `settings` with the <If> sections it carries evaluated and the applying ones merged over it
 * (without ifSections). Conditions that fail to evaluate are logged as httpd logs them over
 * `passes` walks: the early sections' lines that many times, in walk order, the others once.
 */
export function mergeIfSections(base: DirSettings, ctx: ExprRequest, log: ErrorLog, req: MapRequest, passes: number): DirSettings {
  const failed: Failure[] = [];
  let settings: DirSettings = { ...base };
  delete settings.ifSections;
  let list: readonly IfSection[] | undefined = base.ifSections;
  while (list !== undefined && list.length > 0) {
    const nested: IfSection[] = [];
    let previous: boolean | null = null;
    for (const section of list) {
      if (section.kind !== "If" && previous === true) continue;
      if (section.expr !== undefined) {
        if (!condition(section, ctx, failed)) {
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
  if (failed.length > 0) {
    for (let pass = 1; pass < passes; pass++) for (const f of failed) if (f.section.early) logFailure(f, log, req);
    for (const f of failed) logFailure(f, log, req);
  }
  return settings;
}

interface Failure {
  readonly section: IfSection;
  readonly err: ExprEvalError;
}

/** An <If>'s condition; one that cannot be evaluated counts as false, and is noted in `failed`. */
function condition(section: IfSection, ctx: ExprRequest, failed: Failure[]): boolean {
  try {
    return evaluateExpr(section.expr!, ctx);
  } catch (err) {
    if (!(err instanceof ExprEvalError)) throw err;
    failed.push({ section, err });
    return false;
  }
}

/** ap_expr's own line, then AH00039. */
function logFailure({ section, err }: Failure, log: ErrorLog, req: MapRequest): void {
  logExprFailure(log, req, "core", section.expr!, err);
  log.log("error", "core", `${requestLogPrefix(req)}AH00039: Failed to evaluate <If > condition: ${err.message}`);
}
