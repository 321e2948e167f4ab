/**
 * mod_rewrite's two hooks in the map phase: translate_name for the server's rules (the mapper
 * acts on their outcome) and the fixup for per-directory rules, with what the rules see of the
 * request (variables, expressions, file tests, -U/-F lookups) and what their outcome does to it
 * (E=, CO=, Vary, END, a status). The rule engine itself is ./rewrite.ts.
 */
import * as fs from "node:fs";
import type { DirSettings } from "../config/model";
import { evaluateExprMatch, ExprEvalError } from "../config/expr";
import { fsPath, toByteString } from "../engine/byte-string";
import type { ErrorLog } from "../log/error-log";
import { logExprFailure } from "./expr-context";
import { exprRequest, serverVariable, subrequestExpr } from "./expr-request";
import { namesThisServer } from "./host";
import type { HostTables } from "./host-tables";
import { parentDir, withSlash } from "./locate";
import type { Lookups } from "./lookups";
import { bad, type MapResult } from "./map-result";
import type { RequestState } from "./request-state";
import { applyRewrite, type RewriteContext, type RewriteOutcome } from "./rewrite";
import { rewriteCookie } from "./rewrite-cookie";
import type { WalkResult } from "./walk";

export class RewriteHooks {
  constructor(
    private readonly log: ErrorLog,
    private readonly lookups: Lookups,
  ) {}

  /** What rules see of the request: server rules before it is located (`filename` null), per-directory ones after. */
  context(state: RequestState, uri: string, query: string | null, filename: string | null, pathInfo: string | null, mainUri?: string): RewriteContext {
    const t = state.tables;
    // One object shape whatever the context (no conditional spreads): it is made for every request with rules.
    return {
      uri,
      query,
      filename: filename ?? undefined,
      pathInfo,
      endSeen: state.rewriteEnded,
      // httpd skips [NS] and [R] rules in subrequests (DirectoryIndex, MultiViews, lookups, PATH_TRANSLATED).
      isSubrequest: state.subrequest === true,
      mainUri,
      redirectScriptUrl: state.redirectScriptUrl,
      variable: (name) => serverVariable(name, state, uri, query),
      // Per-directory rules run on the located request; server-context ones before it is located.
      expr: (expr, novary) => {
        const own = exprRequest(state, filename !== null ? state.located?.loc : undefined, uri, query, this.lookups);
        // A lookup's subrequest (mainUri given): IS_SUBREQ is true, and its Vary is its own.
        const base = mainUri !== undefined ? subrequestExpr(own) : own;
        const { vary: _vary, ...quiet } = base;
        try {
          const { value, match } = evaluateExprMatch(expr, novary ? quiet : base);
          return { value, match };
        } catch (err) {
          if (!(err instanceof ExprEvalError)) throw err;
          logExprFailure(this.log, state.req, "rewrite", expr, err);
          return null;
        }
      },
      matchesServer: (host, port) => namesThisServer(t.host, state.configured, host, port),
      stat: (p) => {
        let st: fs.Stats | undefined;
        let lst: fs.Stats | undefined;
        try {
          st = fs.statSync(fsPath(p), { throwIfNoEntry: false });
          lst = st ? fs.lstatSync(fsPath(p)) : undefined;
        } catch {
          return null;
        }
        if (!st) return null;
        return { isFile: st.isFile(), isDir: st.isDirectory(), size: st.size, isSymlink: lst?.isSymbolicLink() ?? false, isExecutable: (st.mode & 0o111) !== 0 };
      },
      lookupUri: (url) => this.lookups.uri(state, url, uri),
      lookupFile: (file) => {
        const status = this.lookups.file(state, uri, file);
        // A lookup of a missing file succeeds too (nothing has looked for it yet): -F asks for both.
        return status < 300 && fs.existsSync(fsPath(file)) ? status : 404;
      },
    };
  }

  /** The per-directory rules of `settings` (fixups) applied to the located request; their env, cookies and Vary are applied to `state`. */
  perDirectory(
    state: RequestState,
    settings: DirSettings,
    uri: string,
    query: string | null,
    walk: WalkResult,
  ):
    | { kind: "redirect-to"; url: string }
    | { kind: "result"; result: MapResult }
    | { kind: "continue"; forcedHandler: string | null; forcedType: string | null } {
    const rw = settings.rewrite!;
    const where = rw.rules[0]?.where;
    // The rules belong to the directory whose section (or .htaccess) defined them; <If>'s to `*If`.
    const directory = rw.directory ?? ruleDirectory(state.tables, rw, walk) ?? parentDir(walk.filename);
    const compiled = state.tables.perDirRules(rw, directory);
    const outcome = applyRewrite(compiled, this.context(state, uri, query, walk.filename, walk.pathInfo === "" ? null : walk.pathInfo));
    applyRewriteEnv(state, outcome);
    if (outcome.end) state.rewriteEnded = true;
    switch (outcome.kind) {
      case "internal-redirect":
        return { kind: "redirect-to", url: outcome.url };
      case "redirect":
        return { kind: "result", result: { kind: "redirect", status: outcome.status, location: outcome.location, settings } };
      case "status":
        return { kind: "result", result: rewriteStatus(state, outcome.status, `rewrite rule at ${toByteString(where?.file ?? "")}:${where?.line} answered ${outcome.status}`, settings) };
      default:
        return { kind: "continue", forcedHandler: outcome.forcedHandler, forcedType: outcome.forcedType };
    }
  }
}

/**
 * A status a rewrite rule set ([F], [G], [R=4xx]): no handler has run, so a 405 or 501
 * lists only TRACE in Allow (httpd's make_allow over an empty r->allowed).
 */
export function rewriteStatus(state: RequestState, status: number, reason: string, settings: DirSettings | null): MapResult {
  if (status !== 405 && status !== 501) return bad(status, reason, settings);
  const trace = (state.tables.host.traceEnable?.value ?? state.tables.config.main.traceEnable?.value ?? "on") !== "off";
  return { kind: "error", status, headers: [["Allow", trace ? "TRACE" : ""]], reason, settings };
}

/** A rule set's E= variables, CO= cookies and the request headers its conditions read (Vary), applied to the request. */
export function applyRewriteEnv(state: RequestState, outcome: RewriteOutcome): void {
  for (const [k, v] of outcome.env) {
    if (v === null) state.env.delete(k);
    else state.env.set(k, v);
  }
  for (const spec of outcome.cookies) {
    const cookie = rewriteCookie(spec, Date.now());
    if (cookie && !state.cookies?.has(cookie.name)) (state.cookies ??= new Map()).set(cookie.name, cookie.value);
  }
  for (const h of outcome.vary) if (!state.vary?.includes(h)) (state.vary ??= []).push(h);
}

/** The directory whose per-dir rules these are: the deepest applied Directory section that set them. */
function ruleDirectory(t: HostTables, rw: NonNullable<DirSettings["rewrite"]>, walk: WalkResult): string | null {
  const target = walk.stat?.isDirectory() ? withSlash(walk.filename) : parentDir(walk.filename);
  let best: string | null = null;
  for (const s of [...t.config.main.sections, ...t.host.sections]) {
    if (s.kind !== "Directory" || s.isRegex || s.settings.rewrite === undefined) continue;
    if (!s.settings.rewrite.rules.some((r) => rw.rules.includes(r))) continue;
    const p = withSlash(toByteString(s.pattern));
    if (target.startsWith(p) && (best === null || p.length > best.length)) best = p;
  }
  return best;
}
