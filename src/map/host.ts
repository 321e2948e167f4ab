/**
 * Which server answers a request (name-based virtual hosts), and the SERVER_NAME/SERVER_PORT
 * it reports (serverIdentity: UseCanonicalName Off takes both from the Host header when one
 * was sent, On from ServerName), the banner (ServerTokens) and the page footer (ServerSignature).
 */
import type { HostConfig, ServerConfig } from "../config/model";
import { headerValue } from "../static/serve-file";

export interface RequestHost {
  /** Host header hostname, lower-cased, or the server's own name. */
  readonly serverName: string;
  /** As a string, the way the environ carries it. */
  readonly serverPort: string;
  /** The port the Host header named, if it named one. */
  readonly sentPort?: string;
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
  if (port !== undefined) {
    // As httpd's fix_hostname: decimal, 1-65535, leading zeros allowed (and dropped).
    if (!/^\d+$/.test(port)) return null;
    const n = Number(port);
    if (n < 1 || n > 65535) return null;
    port = String(n);
  }
  // RFC 3986 reg-name characters, as Apache's ap_check_request_header does for Host.
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)$/.test(name)) return null;
  return port === undefined ? { name: name.toLowerCase() } : { name: name.toLowerCase(), port };
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
    rh = parsed ? (parsed.port === undefined ? { serverName: parsed.name, serverPort: defaultPort } : { serverName: parsed.name, serverPort: parsed.port, sentPort: parsed.port }) : null;
    if (cache.size >= HOST_CACHE_MAX) cache.clear();
    cache.set(hostHeader, rh);
  }
  return rh;
}

/** The virtual host (or the main server) a request's Host header and local port choose. */
export function requestHostConfig(config: ServerConfig, req: { readonly headers: readonly string[]; readonly scheme: "http" | "https"; readonly localPort: number }): HostConfig {
  const rh = requestHost(headerValue(req.headers, "host"), "", req.scheme);
  return selectHost(config, rh?.serverName ?? "", req.localPort);
}

/**
 * Name-based virtual host selection: the first <VirtualHost> whose ServerName (its name part:
 * httpd compares `vh.test` with ServerName `vh.test:9000` or `https://vh.test`) or ServerAlias
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
    // No Host header: httpd compares no names (check_hostalias needs r->hostname).
    if (name === "") break;
    if (vh.serverName !== undefined && selectionName(vh.serverName.value) === name) return vh;
    if (vh.serverAliases.length > 0 && matchesAlias(aliasTests(vh), name)) return vh;
  }
  return firstOnPort ?? config.main;
}

/** ServerName's name part, lower-cased as Host names are. */
const selectionNames = new Map<string, string>();
function selectionName(raw: string): string {
  let n = selectionNames.get(raw);
  if (n === undefined) {
    n = serverNameParts(raw).name.toLowerCase();
    selectionNames.set(raw, n);
  }
  return n;
}

/** A ServerAlias, lower-cased: the name itself, or its `*`/`?` pattern as a regular expression. */
type AliasTest = string | RegExp;
const aliasTestsOf = new WeakMap<HostConfig, readonly AliasTest[]>();

/** A host's ServerAlias tests, compiled the first time the host is considered, not per request. */
function aliasTests(vh: HostConfig): readonly AliasTest[] {
  let tests = aliasTestsOf.get(vh);
  if (tests === undefined) {
    tests = vh.serverAliases.map((alias) => {
      const pattern = alias.toLowerCase();
      if (!/[*?]/.test(pattern)) return pattern;
      return new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
    });
    aliasTestsOf.set(vh, tests);
  }
  return tests;
}

function matchesAlias(tests: readonly AliasTest[], name: string): boolean {
  for (const t of tests) if (typeof t === "string" ? t === name : t.test(name)) return true;
  return false;
}

/**
 * ap_matches_request_vhost, for mod_rewrite's reduce_uri: does `http://host:port/` name this
 * server? Only when `port` is ServerName's explicit port (without one, never) and `host` is
 * ServerName or a ServerAlias.
 */
export function namesThisServer(host: HostConfig, configured: ConfiguredName, name: string, port: number): boolean {
  if (configured.port === undefined || Number(configured.port) !== port) return false;
  const lower = name.toLowerCase();
  return lower === configured.name.toLowerCase() || (host.serverAliases.length > 0 && matchesAlias(aliasTests(host), lower));
}

// ---------------------------------------------------------------------------------------------
// The server's identity: ServerName, UseCanonicalName, ServerAdmin, ServerTokens, ServerSignature
// ---------------------------------------------------------------------------------------------

/** ServerName split as httpd keeps it: host name and port (a scheme given there sets the default port). */
export interface ConfiguredName {
  readonly name: string;
  readonly port: string | undefined;
  /** The scheme ServerName gave (`https://e.test`), lower-cased; absent when it gave none. */
  readonly scheme?: string;
}

/**
 * A host's ServerName (a virtual host without one uses the main server's), without scheme.
 * The port is ServerName's, else the default of a scheme given there, else none: httpd never
 * takes it from the <VirtualHost> address (Apache 2.4.71 reports 80 for `<VirtualHost *:8080>`
 * with `ServerName vh.test` under UseCanonicalName On, or Off without a port in Host).
 */
export function configuredName(config: ServerConfig, host: HostConfig): ConfiguredName {
  return serverNameParts(host.serverName?.value ?? config.main.serverName?.value ?? "localhost");
}

const serverNames = new Map<string, ConfiguredName>();

/**
 * `[scheme://]name[:port]` split as httpd's ServerName keeps it, cached per value. The name
 * keeps its case: httpd reports `ServerName Mixed.Test` as written (SERVER_NAME under
 * UseCanonicalName On, the footer, redirects).
 */
export function serverNameParts(raw: string): ConfiguredName {
  let c = serverNames.get(raw);
  if (c === undefined) {
    const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\[[^\]]*\]|[^:]*)(?::(\d+))?$/i.exec(raw);
    const scheme = m?.[1]?.toLowerCase();
    const name = m?.[2] ?? raw;
    const port = m?.[3] ?? (scheme === "https" ? "443" : scheme === "http" ? "80" : undefined);
    c = scheme === undefined ? { name, port } : { name, port, scheme };
    serverNames.set(raw, c);
  }
  return c;
}

/**
 * ap_http_scheme: https on a TLS connection, else https when ServerName says so (httpd's
 * server_scheme), else http. Self-referential URLs, REQUEST_SCHEME and the default port
 * follow it; wsgi.url_scheme does not (mod_wsgi reports the connection's).
 */
export function httpScheme(configured: ConfiguredName, connection: "http" | "https"): "http" | "https" {
  return connection === "https" || configured.scheme === "https" ? "https" : "http";
}

/** The SERVER_NAME and SERVER_PORT of a request, as ap_get_server_name / ap_get_server_port. */
export function serverIdentity(
  useCanonical: "on" | "off" | "dns" | undefined,
  configured: ConfiguredName,
  sent: { name: string | undefined; port: string | undefined },
  scheme: "http" | "https",
  localAddress: string,
): RequestHost {
  return {
    serverName: identityName(useCanonical, configured, sent.name, localAddress),
    serverPort: identityPort(useCanonical, configured, sent.port, scheme),
  };
}

/** ap_get_server_name: Host's name (Off), ServerName's (On), the local address (DNS). No allocation: the map phase calls it per request. */
export function identityName(
  useCanonical: "on" | "off" | "dns" | undefined,
  configured: ConfiguredName,
  sentName: string | undefined,
  localAddress: string,
): string {
  if (useCanonical === "on") return configured.name;
  if (useCanonical === "dns") {
    // httpd looks the local address up in the DNS; nodewsgi reports the address.
    const addr = localAddress.startsWith("::ffff:") && localAddress.includes(".") ? localAddress.slice(7) : localAddress;
    return addr.includes(":") ? `[${addr}]` : addr || configured.name;
  }
  return sentName || configured.name;
}

/** ap_get_server_port (UseCanonicalPhysicalPort Off): On ignores the Host header's port. */
export function identityPort(
  useCanonical: "on" | "off" | "dns" | undefined,
  configured: ConfiguredName,
  sentPort: string | undefined,
  scheme: "http" | "https",
): string {
  const port = useCanonical === "on" ? configured.port : (sentPort ?? configured.port);
  return port ?? (scheme === "https" ? "443" : "80");
}

/** ServerAdmin of a host (a virtual host inherits the main server's). */
export function serverAdmin(config: ServerConfig, host: HostConfig): string {
  return host.serverAdmin?.value ?? config.main.serverAdmin?.value ?? "[no address given]";
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = (require("../../package.json") as { version: string }).version;

/** ap_get_server_banner: the product tokens ServerTokens allows. */
const banners = new Map<string | undefined, string>();
export function serverBanner(tokens: ServerConfig["serverTokens"]): string {
  let b = banners.get(tokens?.value);
  if (b === undefined) {
    b = banner(tokens?.value);
    banners.set(tokens?.value, b);
  }
  return b;
}

function banner(tokens: string | undefined): string {
  const v = VERSION.split(".");
  switch (tokens) {
    case "Prod":
      return "nodewsgi";
    case "Major":
      return `nodewsgi/${v[0]}`;
    case "Minor":
      return `nodewsgi/${v[0]}.${v[1]}`;
    case "Min":
      return `nodewsgi/${VERSION}`;
    case "OS":
      return `nodewsgi/${VERSION} (${osName()})`;
    default:
      return `nodewsgi/${VERSION} (${osName()}) Node.js/${process.versions.node}`;
  }
}

function osName(): string {
  return process.platform === "linux" ? "Linux" : process.platform === "darwin" ? "Darwin" : process.platform === "win32" ? "Win32" : process.platform;
}

/** The page footer ServerSignature asks for (ap_psignature), `prefix` first; "" when Off. */
export function serverSignature(
  mode: "on" | "off" | "email" | undefined,
  prefix: string,
  banner: string,
  name: string,
  port: string,
  admin: string,
): string {
  if (mode === undefined || mode === "off") return "";
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "&" ? "&amp;" : "&quot;"));
  if (mode === "email") {
    // ap_is_url: letters, digits, `+`, `-` and `.` before a colon, at least one of them.
    const mailto = /^[A-Za-z0-9+.-]+:/.test(admin) ? "" : "mailto:";
    return `${prefix}<address>${banner} Server at <a href="${mailto}${esc(admin)}">${esc(name)}</a> Port ${port}</address>\n`;
  }
  return `${prefix}<address>${banner} Server at ${esc(name)} Port ${port}</address>\n`;
}
