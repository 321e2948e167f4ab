/**
 * Which server answers a request (name-based virtual hosts), and the SERVER_NAME/SERVER_PORT
 * it reports. Apache's defaults apply: UseCanonicalName Off, so both come from the Host
 * header when one was sent, and the port is the scheme's default when Host has none.
 */
import type { HostConfig, ServerConfig } from "../config/model";

export interface RequestHost {
  /** Host header hostname, lower-cased, or the server's own name. */
  readonly serverName: string;
  /** As a string, the way the environ carries it. */
  readonly serverPort: string;
}

/** The hostname and port of a Host header value (`name`, `name:port`, `[v6]:port`). */
export function parseHostHeader(value: string): { name: string; port?: string } | null {
  const v = value.trim();
  if (v === "") return null;
  let name: string;
  let port: string | undefined;
  if (v.startsWith("[")) {
    const end = v.indexOf("]");
    if (end < 0) return null;
    name = v.slice(0, end + 1);
    const rest = v.slice(end + 1);
    if (rest.startsWith(":")) port = rest.slice(1);
    else if (rest !== "") return null;
  } else {
    const colon = v.lastIndexOf(":");
    if (colon >= 0) {
      name = v.slice(0, colon);
      port = v.slice(colon + 1);
    } else {
      name = v;
    }
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return null;
  // RFC 3986 reg-name characters, as Apache's ap_check_request_header does for Host.
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)$/.test(name)) return null;
  return port === undefined || port === "" ? { name: name.toLowerCase() } : { name: name.toLowerCase(), port };
}

/**
 * Host values seen recently, per scheme (it sets the default port): clients send the same
 * few, and parsing one costs two regular expressions. Cleared when full, so a client
 * inventing names cannot grow it.
 */
const HOST_CACHE_MAX = 256;
const hostCache = { http: new Map<string, RequestHost | null>(), https: new Map<string, RequestHost | null>() };

export function requestHost(hostHeader: string | undefined, fallbackName: string, scheme: "http" | "https"): RequestHost | null {
  const defaultPort = scheme === "https" ? "443" : "80";
  if (hostHeader === undefined) return { serverName: fallbackName, serverPort: defaultPort };
  const cache = hostCache[scheme];
  let rh = cache.get(hostHeader);
  if (rh === undefined) {
    const parsed = parseHostHeader(hostHeader);
    rh = parsed ? { serverName: parsed.name, serverPort: parsed.port ?? defaultPort } : null;
    if (cache.size >= HOST_CACHE_MAX) cache.clear();
    cache.set(hostHeader, rh);
  }
  return rh;
}

/**
 * Name-based virtual host selection: the first <VirtualHost> whose ServerName or ServerAlias
 * matches the request's host (ServerAlias may use `*` and `?`), else the first virtual host
 * listening on the port, else the main server.
 */
export function selectHost(config: ServerConfig, name: string, localPort: number): HostConfig {
  if (config.virtualHosts.length === 0) return config.main;
  let firstOnPort: HostConfig | undefined;
  for (const vh of config.virtualHosts) {
    const onPort = vh.addresses.length === 0 || vh.addresses.some((a) => a.port === undefined || a.port === "*" || a.port === localPort || localPort === 0);
    if (!onPort) continue;
    firstOnPort ??= vh;
    if (vh.serverName?.value.toLowerCase() === name) return vh;
    if (vh.serverAliases.some((alias) => wildcardMatch(alias.toLowerCase(), name))) return vh;
  }
  return firstOnPort ?? config.main;
}

function wildcardMatch(pattern: string, s: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === s;
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(s);
}
