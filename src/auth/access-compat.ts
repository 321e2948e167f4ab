/**
 * mod_access_compat: the Apache 2.2 host-based access directives `Order`, `Allow from`,
 * `Deny from` and `Satisfy`, as httpd 2.4 still runs them (check_dir_access, find_allowdeny,
 * in_domain). They are checked before mod_authz_core's `Require`:
 *   - Satisfy All (or none given): a denial here is a 403; otherwise `Require` decides;
 *   - Satisfy Any: an allowance here grants the request outright (no `Require`, no
 *     authentication); a denial leaves the decision to `Require` (and Basic authentication).
 * A section that uses any of the four starts from the module's defaults (`Order deny,allow`,
 * no rules, Satisfy unset): httpd's module has no merge function, so the most specific such
 * section's settings replace the inherited ones wholesale.
 */
import * as dns from "node:dns";
import * as net from "node:net";
import { NodewsgiError } from "../errors";
import { IpRule, ipMatches, parseIpRule } from "./ip";
import { limitCovers, type MethodLimit } from "./method-limit";

export type AccessOrder = "allow,deny" | "deny,allow" | "mutual-failure";

export type HostRule = (
  | { readonly kind: "all" }
  | { readonly kind: "env"; readonly name: string; readonly negate: boolean }
  | { readonly kind: "ip"; readonly rule: IpRule }
  /** A host name or domain suffix, matched against the client's double-reverse-resolved name. */
  | { readonly kind: "host"; readonly domain: string }
) & {
  /** Inside <Limit>/<LimitExcept>: the methods the rule applies to. */
  readonly limit?: MethodLimit;
};

/** An Order or Satisfy given inside <Limit>/<LimitExcept>: it sets the value for those methods. */
export interface MethodSetting<T> {
  readonly value: T;
  readonly limit: MethodLimit;
}

/** One section's mod_access_compat settings (filled by the directives, then read-only). */
export interface AccessCompat {
  order: AccessOrder;
  readonly allows: HostRule[];
  readonly denys: HostRule[];
  satisfy?: "any" | "all";
  /** Order lines inside <Limit>: for a method they cover, the last one wins over `order`. */
  methodOrders?: MethodSetting<AccessOrder>[];
  methodSatisfy?: MethodSetting<"any" | "all">[];
}

export function emptyAccessCompat(): AccessCompat {
  return { order: "deny,allow", allows: [], denys: [] };
}

/** apr's looks_like_ip: digits and dots only, or any colon (then meant as IPv6). */
function looksLikeIp(s: string): boolean {
  return s.includes(":") || /^[\d.]+$/.test(s);
}

/**
 * One `Allow from`/`Deny from` argument, as allow_cmd reads it. Throws
 * NodewsgiError("CONFIG_ACCESS") for an address or network that is malformed.
 */
export function parseHostRule(spec: string): HostRule {
  const lower = spec.toLowerCase();
  if (lower.startsWith("env=!")) return { kind: "env", name: spec.slice(5), negate: true };
  if (lower.startsWith("env=")) return { kind: "env", name: spec.slice(4), negate: false };
  if (lower === "all") return { kind: "all" };
  const slash = spec.indexOf("/");
  const addr = slash < 0 ? spec : spec.slice(0, slash);
  // With a mask the address must be one; without, anything not shaped like one is a host name.
  if (slash < 0 && !looksLikeIp(addr)) return { kind: "host", domain: spec };
  try {
    return { kind: "ip", rule: parseIpRule(spec) };
  } catch {
    // apr_ipsubnet_create's two complaints: the address, or (with a full address before it) the mask.
    const addressOk = slash >= 0 && net.isIP(addr.replace(/%.*$/, "")) !== 0;
    throw new NodewsgiError("CONFIG_ACCESS", addressOk ? `'${spec}': the network mask is invalid` : `'${spec}': the IP address is invalid`);
  }
}

/** in_domain: `what` ends with `domain` on a label boundary (a leading dot in `domain` counts as one). */
export function inDomain(domain: string, what: string): boolean {
  const dl = domain.length;
  const wl = what.length;
  if (wl < dl || what.slice(wl - dl).toLowerCase() !== domain.toLowerCase()) return false;
  return wl === dl || domain[0] === "." || what[wl - dl - 1] === ".";
}

export interface AccessClient {
  readonly remoteAddress: string;
  readonly env?: ReadonlyMap<string, string>;
  /** The double-reverse-resolved name; null when there is none. Needed only by host rules. */
  readonly hostName?: string | null;
  /** The request method, for rules inside <Limit>/<LimitExcept>. */
  readonly method?: string;
}

function matches(rules: readonly HostRule[], c: AccessClient): boolean {
  for (const r of rules) {
    if (r.limit !== undefined && !limitCovers(r.limit, c.method)) continue;
    switch (r.kind) {
      case "all":
        return true;
      case "env":
        if (envHas(c.env, r.name) !== r.negate) return true;
        break;
      case "ip":
        if (ipMatches(r.rule, c.remoteAddress)) return true;
        break;
      case "host":
        if (c.hostName && inDomain(r.domain, c.hostName)) return true;
        break;
    }
  }
  return false;
}

/** apr_table_get on subprocess_env: names compare without regard to case. */
function envHas(env: ReadonlyMap<string, string> | undefined, name: string): boolean {
  if (env === undefined) return false;
  if (env.has(name)) return true;
  const lower = name.toLowerCase();
  for (const k of env.keys()) if (k.toLowerCase() === lower) return true;
  return false;
}

/** check_dir_access: does mod_access_compat let the client in? */
export function accessAllowed(ac: AccessCompat, c: AccessClient): boolean {
  switch (forMethod(ac.methodOrders, ac.order, c.method)) {
    case "allow,deny":
      return matches(ac.allows, c) && !matches(ac.denys, c);
    case "deny,allow":
      return !matches(ac.denys, c) || matches(ac.allows, c);
    case "mutual-failure":
      return matches(ac.allows, c) && !matches(ac.denys, c);
  }
}

/** The value a method gets: the last <Limit>ed setting that covers it, else the plain one. */
function forMethod<T>(settings: readonly MethodSetting<T>[] | undefined, plain: T, method: string | undefined): T {
  if (settings === undefined) return plain;
  for (let i = settings.length - 1; i >= 0; i--) if (limitCovers(settings[i]!.limit, method)) return settings[i]!.value;
  return plain;
}

/** Satisfy as it applies to a request with this method (ap_satisfies). */
export function satisfyFor(ac: AccessCompat, method: string | undefined): "any" | "all" | undefined {
  return forMethod<"any" | "all" | undefined>(ac.methodSatisfy, ac.satisfy, method);
}

/** Some setting is limited to methods: the answer depends on the request's method. */
function methodDependent(ac: AccessCompat): boolean {
  return ac.methodOrders !== undefined || ac.methodSatisfy !== undefined || ac.allows.some((r) => r.limit) || ac.denys.some((r) => r.limit);
}

/** The settings give every request the same answer (only `all` rules, or none, and no <Limit>). */
export function accessRequestIndependent(ac: AccessCompat): boolean {
  return !methodDependent(ac) && ac.allows.every((r) => r.kind === "all") && ac.denys.every((r) => r.kind === "all");
}

/** Some rule names a host: the client's name must be looked up first. */
export function accessNeedsHostName(ac: AccessCompat): boolean {
  return ac.allows.some((r) => r.kind === "host") || ac.denys.some((r) => r.kind === "host");
}

const NAME_TTL_MS = 30_000;
const NAME_CACHE_MAX = 1024;
const names = new Map<string, { at: number; name: Promise<string | null> }>();

/**
 * The client's name as httpd's REMOTE_DOUBLE_REV lookup finds it: the reverse lookup of the
 * address, kept only if that name resolves forward to the same address. Both lookups go
 * through getnameinfo/getaddrinfo on libuv's thread pool (the event loop never waits; at most
 * LOOKUPS_AT_ONCE at a time), and answers are kept briefly (httpd keeps them per connection).
 */
export function doubleReverseName(remoteAddress: string): Promise<string | null> {
  const addr = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress)?.[1] ?? remoteAddress.replace(/%.*$/, "");
  const now = Date.now();
  const hit = names.get(addr);
  if (hit && now - hit.at < NAME_TTL_MS) return hit.name;
  const name = lookupDoubleReverse(addr);
  if (names.size >= NAME_CACHE_MAX) names.delete(names.keys().next().value!);
  names.set(addr, { at: now, name });
  return name;
}

/**
 * Lookups running at once. libuv's thread pool (4 threads) also reads every static file: slow
 * reverse lookups for many clients must not take all of it, so the rest wait their turn.
 */
const LOOKUPS_AT_ONCE = 2;
let lookupsRunning = 0;
const lookupsWaiting: (() => void)[] = [];

function acquireLookup(): Promise<void> {
  if (lookupsRunning < LOOKUPS_AT_ONCE) {
    lookupsRunning++;
    return Promise.resolve();
  }
  return new Promise((resolve) => lookupsWaiting.push(resolve));
}

/** The slot goes straight to the next waiting lookup, if any. */
function releaseLookup(): void {
  const next = lookupsWaiting.shift();
  if (next) next();
  else lookupsRunning--;
}

async function lookupDoubleReverse(addr: string): Promise<string | null> {
  await acquireLookup();
  try {
    const { hostname } = await dns.promises.lookupService(addr, 0);
    if (!hostname || looksLikeIp(hostname)) return null;
    const forward = await dns.promises.lookup(hostname, { all: true });
    return forward.some((a) => sameAddress(a.address, addr)) ? hostname : null;
  } catch {
    return null;
  } finally {
    releaseLookup();
  }
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return ipMatches(parseIpRule(a), b);
  } catch {
    return false;
  }
}
