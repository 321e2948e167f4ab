/**
 * What the map phase decided for a URL-path before anything request-specific: where
 * translate_name put it, what the directory walk found, the merged sections and the handler.
 * These depend only on the path and the disk, so they are reused for as long as the stat
 * results they rest on (walk.ts's STAT_TTL_MS); access checks, rewrites that look at the
 * request, and the environ are still done per request.
 */
import type { DirSettings, OptionName } from "../config/model";
import type { WalkResult } from "./walk";
import type { RoutePlan } from "./route-plan";

/** Where translate_name put the request. */
export interface Translation {
  readonly filename: string;
  /** The request was mapped by WSGIScriptAlias*: handler wsgi-script, no ExecCGI needed. */
  readonly scriptAlias: { readonly options: { processGroup?: string; applicationGroup?: string; callableObject?: string; passAuthorization?: boolean } } | null;
  readonly contextPrefix: string;
  readonly contextDocumentRoot: string;
  readonly forcedHandler: string | null;
  readonly forcedType: string | null;
}

export interface Located {
  /** When it was computed (Date.now()). */
  readonly at: number;
  readonly translated: Translation;
  readonly walk: WalkResult;
  readonly isDir: boolean;
  readonly settings: DirSettings;
  readonly options: ReadonlySet<OptionName>;
  readonly handler: string | null;
  /** SetEnv/UnsetEnv/PassEnv of the merged sections, applied. */
  readonly env: ReadonlyMap<string, string>;
  /** PATH_TRANSLATED, filled in the first time an application request needs it. */
  pathTranslated: string | undefined;
}

/** Distinct paths remembered per host; a client walking random URLs cannot grow it further. */
const ROUTE_CACHE_MAX = 4096;

export class RouteCache {
  private readonly routes = new Map<string, Located>();
  /**
   * Route plans by the URL-path as sent: a server-context rewrite may have mapped the request
   * under another path (whose own requests the rules may treat otherwise).
   */
  private readonly plans = new Map<string, RoutePlan>();

  get(uri: string): Located | undefined {
    return this.routes.get(uri);
  }

  set(uri: string, located: Located): void {
    if (this.routes.size >= ROUTE_CACHE_MAX) this.routes.clear();
    this.routes.set(uri, located);
  }

  /** The map phase of the last application request for `uri` (as sent) that did not depend on the request. */
  plan(uri: string): RoutePlan | undefined {
    return this.plans.get(uri);
  }

  setPlan(uri: string, plan: RoutePlan): void {
    if (this.plans.size >= ROUTE_CACHE_MAX) this.plans.clear();
    this.plans.set(uri, plan);
  }
}
