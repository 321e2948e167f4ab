/**
 * What one request's mapping carries from phase to phase and across internal redirects: the
 * mapper, the access phase, `<If>` sections, expressions and lookups all read and update it.
 */
import type { ConfiguredName } from "./host";
import type { HostTables } from "./host-tables";
import type { Located } from "./route-cache";
import type { MapRequest, Negotiated } from "./map-result";

/** Apache's LimitInternalRecursion default. */
export const LIMIT_INTERNAL_RECURSION = 10;

/** The last pass's located request, its URL-path and query: what `Require expr` and `Header expr=` read. */
export interface LocatedPass {
  readonly loc: Located;
  readonly uri: string;
  readonly query: string | null;
}

/** Request state that survives internal redirects. */
export interface RequestState {
  readonly req: MapRequest;
  readonly tables: HostTables;
  /** This pass is mod_dir's or mod_negotiation's subrequest, whose answer becomes the request's (a fast redirect). */
  subrequest?: boolean;
  /** SERVER_NAME/SERVER_PORT: the server's UseCanonicalName until the walk, then the directory's. */
  serverName: string;
  serverPort: string;
  /** What the Host header named, and ServerName, for UseCanonicalName. */
  readonly sentName: string | undefined;
  readonly sentPort: string | undefined;
  readonly configured: ConfiguredName;
  /** ap_http_scheme: the connection's, or https when ServerName names it (REQUEST_SCHEME, redirects). */
  readonly scheme: "http" | "https";
  /** UseCanonicalName of the server, and the one serverName/serverPort follow now. */
  readonly serverCanonical: "on" | "off" | "dns" | undefined;
  canonical: "on" | "off" | "dns" | undefined;
  /** REQUEST_URI: the target as sent. */
  readonly requestUri: string;
  /** Environment variables (SetEnv, rewrite E=, REDIRECT_*), in order of setting. */
  env: Map<string, string>;
  /** After an internal redirect: the variables of the redirected-from request. */
  redirected: boolean;
  rewriteEnded: boolean;
  redirectScriptUrl: string | null;
  authEnviron: Readonly<Record<string, string>>;
  /**
   * The URL-path as sent (normalised): the route plan's key with the Host header and listener,
   * whatever server-context rewrite rules make of the path.
   */
  readonly sentUri: string;
  /** The Host header as sent, part of a route plan's key. */
  readonly hostHeader: string | undefined;
  /**
   * Nothing of the request but its path, Host header and listener has been consulted so far:
   * an application request mapped so can be answered from a route plan next time.
   */
  plain: boolean;
  /**
   * The route-cache entry was there already: the path has been asked for before. A plan is
   * made only then, so traffic that never repeats a path allocates none.
   */
  routeReused: boolean;
  /** MultiViews chose the file being mapped: the headers and validator it adds. */
  negotiated?: Negotiated;
  /** The client's double-reverse name once a host-name rule has looked it up (null: none). */
  hostName?: string | null;
  /** RewriteRule [CO=]: Set-Cookie values by cookie name (the first setting of a name wins, as in httpd). */
  cookies?: Map<string, string>;
  /** Request headers rewrite conditions looked at (Vary); an internal redirect starts afresh. */
  vary?: string[];
  /** Request headers ap_expr expressions read (Vary): ap_expr puts them in the response's headers at once, which an internal redirect keeps. */
  exprVary?: string[];
  /** The last pass as located (for `Require expr` and `Header expr=`). */
  located: LocatedPass | undefined;
  /** How many RewriteCond/ap_expr lookups are running inside one another now. */
  lookupDepth: number;
  /** Digest authentication succeeded: mod_auth_digest's Authentication-Info (an internal redirect drops it, as httpd's new request has none). */
  authInfo: string | undefined;
  /** r->user: set by authentication once it has read the credentials. */
  user: string | undefined;
}
