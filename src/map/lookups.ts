/**
 * The subrequests RewriteCond -U/-F and ap_expr's -U/-F (in `<If>`, `Require expr`, ...) look a
 * URL-path or file up with: translated and located as a request would be, then the access phase's
 * checks, and no handler. Only the status is wanted.
 */
import { headerValue } from "../static/serve-file";
import type { ErrorLog } from "../log/error-log";
import { lookupAccessStatus } from "../auth/lookup-auth";
import { accessAllowed, satisfyFor } from "../auth/access-compat";
import { requestLogPrefix } from "../log/request-id";
import { authConfigOf, isDigest, type AccessPhase } from "./access-phase";
import { locate, translateAliases } from "./locate";
import { LIMIT_INTERNAL_RECURSION, type RequestState } from "./request-state";
import type { Translation } from "./route-cache";
import { exprRequest, subrequestExpr } from "./expr-request";
import { lateWalkPasses, withIfSections } from "./if-sections";
import type { HtaccessReader } from "./sections";

/**
 * The translate phase of a -U lookup's subrequest (the mapper's: server rewrite rules, Redirect):
 * where the URL-path leads, or the status translation answered with.
 */
export type LookupTranslate = (state: RequestState, uri: string, parentUri: string) => { readonly uri: string; readonly translated: Translation } | number;

export class Lookups {
  constructor(
    private readonly log: ErrorLog,
    private readonly htaccess: HtaccessReader | null,
    private readonly access: AccessPhase,
    private readonly translate: LookupTranslate = (_s, uri) => ({ uri, translated: translateAliases(_s.tables, uri, null, null) }),
  ) {}

  /**
   * -U: the status of a subrequest for URL-path `url`, made while `parentUri` is being mapped
   * (its log lines name the URL-path as translated).
   */
  uri(state: RequestState, url: string, parentUri: string): number {
    // The lookup's own rewrite conditions may look up in turn: stop where status() would.
    if (state.lookupDepth >= LIMIT_INTERNAL_RECURSION) return this.tooDeep(state);
    const to = this.nested(state, () => this.translate(state, url, parentUri))();
    return typeof to === "number" ? to : this.status(state, to.uri, to.translated, to.uri, lateWalkPasses(state.tables.sections.early));
  }

  /** httpd's AH00125 for subrequests nested deeper than LimitInternalRecursion: the lookup fails with 500. */
  private tooDeep(state: RequestState): number {
    this.log.log("error", "core", `${requestLogPrefix(state.req)}AH00125: Request exceeded the limit of ${LIMIT_INTERNAL_RECURSION} subrequest nesting levels due to probable configuration error. Use 'LimitInternalRecursion' to increase the limit if necessary. Use 'LogLevel debug' to get a backtrace.`);
    return 500;
  }

  /** -F: the status of a subrequest for `file`, made while `uri` is being mapped. httpd's file subrequest has no URI: its log lines name "". */
  file(state: RequestState, uri: string, file: string): number {
    // A file subrequest skips the walks before translation: its <If>s are walked once.
    return this.status(state, uri, { filename: file, scriptAlias: null, contextPrefix: "", contextDocumentRoot: state.tables.documentRoot, forcedHandler: null, forcedType: null }, "", 1);
  }

  /**
   * The status of RewriteCond -U / -F's subrequest: the translation, walk and access checks of
   * a lookup, no handler (so a missing file is still 200). Basic authentication runs with the
   * request's credentials, as the subrequest carries them (lookupAccessStatus); `logUri` is
   * what its log lines name; `ifPasses`, how many of httpd's walks its <If> walk stands for
   * (lateWalkPasses).
   */
  private status(state: RequestState, uri: string, translated: Translation, logUri: string, ifPasses: number): number {
    // A `Require expr` of the looked-up location may itself look up (`-U`): as httpd's nested
    // subrequests, at most LimitInternalRecursion deep.
    if (state.lookupDepth >= LIMIT_INTERNAL_RECURSION) return this.tooDeep(state);
    const found = locate(state.tables, uri, translated, this.htaccess);
    if (!("translated" in found)) return found.kind === "error" ? found.status : 200;
    // httpd's subrequest runs ap_if_walk too: the looked-up URL's <If> sections apply.
    const located = found.settings.ifSections === undefined ? found : this.nested(state, () => withIfSections(found, subrequestExpr(exprRequest(state, found, uri, null, this)), this.log, state.req, ifPasses))();
    const settings = located.settings;
    const ac = settings.accessCompat;
    if (ac !== undefined) {
      // A lookup cannot wait for DNS: host-name rules match nothing here.
      const allowed = accessAllowed(ac, { remoteAddress: state.req.remoteAddress, env: state.env, method: state.req.method });
      const satisfy = satisfyFor(ac, state.req.method);
      if (satisfy === "any" && allowed) return 200;
      if (satisfy !== "any" && !allowed) return 403;
    }
    const requirement = settings.authz ? this.access.requirement(settings.authz) : null;
    const req = state.req;
    return lookupAccessStatus(
      {
        remoteAddress: req.remoteAddress,
        localAddress: req.localAddress,
        method: req.method,
        authorization: headerValue(req.headers, "authorization"),
        uri: logUri,
        logPrefix: requestLogPrefix(req),
        env: state.env,
        ...(isDigest(settings) ? { digest: this.access.digestRequest(state) } : {}),
      },
      requirement,
      authConfigOf(settings),
      {
        log: this.log,
        digestState: this.access.digest,
        onAuthenticationInfo: (info) => (state.authInfo = info),
        ...(requirement && this.access.readsExpr(requirement) ? { expr: this.nested(state, this.access.requireExpr(state, logUri, { loc: located, uri, query: null })) } : {}),
      },
    );
  }

  /** `fn` run one subrequest level deeper (lookups from a lookup's `Require expr`). */
  private nested<A extends unknown[], R>(state: RequestState, fn: (...args: A) => R): (...args: A) => R {
    return (...args) => {
      state.lookupDepth++;
      try {
        return fn(...args);
      } finally {
        state.lookupDepth--;
      }
    };
  }
}
