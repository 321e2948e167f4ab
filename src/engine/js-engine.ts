/**
 * The pure-TypeScript engine: the reference twin of native/ (and the fallback when the addon
 * is missing). Straightforward on purpose: rules are tried one by one in configuration order.
 */
import { assembleHeaderEnviron, memoiseEnvironKey } from "./header-environ";
import { NodewsgiError } from "../errors";
import { toByteString } from "./byte-string";
import { translateApacheRegex } from "./regex";
import { applyTemplate, parseTemplate, type Template } from "./substitution";
import type {
  AliasHit, AliasRule, AliasTable, EncodedSlashes, Engine, HeaderEnvironOptions,
  NormalizedPath, ProxyList, ProxyOverrides,
} from "./types";

// ---------------------------------------------------------------------------------------------
// Alias table

/** mod_alias `alias_matches`: characters consumed from `uri`, 0 when `alias` does not match. */
export function aliasMatches(uri: string, alias: string): number {
  if (alias.length === 0) return 0;
  let a = 0;
  let u = 0;
  while (a < alias.length) {
    if (alias[a] === "/") {
      // Any run of `/` in the alias matches any run (at least one) in the URI.
      if (uri[u] !== "/") return 0;
      while (alias[a] === "/") a++;
      while (uri[u] === "/") u++;
    } else if (uri[u++] !== alias[a++]) {
      return 0;
    }
  }
  if (alias[alias.length - 1] !== "/" && u < uri.length && uri[u] !== "/") return 0;
  return u;
}

/** A compiled AliasMatch rule, shared with the native engine for the rules it hands back. */
export interface JsRegexRule {
  readonly index: number;
  readonly regex: RegExp;
  readonly template: Template;
}

export function compileRegexRule(index: number, pattern: string, target: string, jsSource?: string): JsRegexRule {
  const source = jsSource ?? translateApacheRegex(pattern).jsSource;
  return { index, regex: new RegExp(source, "s"), template: parseTemplate(toByteString(target)) };
}

export function matchRegexRule(rule: JsRegexRule, path: string): AliasHit | null {
  const m = rule.regex.exec(path);
  if (m === null) return null;
  return {
    index: rule.index,
    target: applyTemplate(rule.template, (n) => m[n] ?? ""),
    matchedLength: m.index + m[0].length,
  };
}

type CompiledRule =
  | { kind: "prefix"; index: number; url: string; target: string }
  | { kind: "regex"; rule: JsRegexRule };

export class JsAliasTable implements AliasTable {
  readonly size: number;
  readonly jsEvaluatedRules: readonly number[] = [];
  private readonly rules: CompiledRule[];

  constructor(rules: readonly AliasRule[]) {
    this.size = rules.length;
    this.rules = rules.map((r, index): CompiledRule =>
      r.kind === "prefix"
        ? { kind: "prefix", index, url: toByteString(r.url), target: toByteString(r.target) }
        : { kind: "regex", rule: compileRegexRule(index, r.pattern, r.target) },
    );
  }

  match(path: string): AliasHit | null {
    for (const r of this.rules) {
      if (r.kind === "prefix") {
        const length = aliasMatches(path, r.url);
        if (length > 0) return { index: r.index, target: r.target + path.slice(length), matchedLength: length };
      } else {
        const hit = matchRegexRule(r.rule, path);
        if (hit) return hit;
      }
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Headers

/** Apache's `http2env`: null for a name with anything but letters, digits and `-`. */
export function http2env(name: string): string | null {
  if (!/^[A-Za-z0-9-]+$/.test(name)) return null;
  return "HTTP_" + name.toUpperCase().replace(/-/g, "_");
}

export function environKey(name: string, passAuthorization: boolean): string | null {
  switch (name.toLowerCase()) {
    case "content-type": return "CONTENT_TYPE";
    case "content-length": return "CONTENT_LENGTH";
    case "proxy": // httpoxy
    case "proxy-authorization": return null;
    case "authorization": if (!passAuthorization) return null;
  }
  return http2env(name);
}

const jsEnvironKey = memoiseEnvironKey(environKey);

function headersToEnviron(headers: readonly string[], options: HeaderEnvironOptions): string[] {
  return assembleHeaderEnviron(headers, options.passAuthorization, jsEnvironKey);
}

// ---------------------------------------------------------------------------------------------
// Trusted proxies: addresses as 128-bit numbers, IPv4 as IPv4-mapped IPv6.

const V4_MAPPED = 0xffffn << 32n;
const ALL = (1n << 128n) - 1n;

function parseOctet(p: string): number | null {
  if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
  const n = Number(p);
  return n <= 255 ? n : null;
}

function parseV4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    const o = parseOctet(p);
    if (o === null) return null;
    v = v * 256 + o;
  }
  return v;
}

function parseV6(s: string): bigint | null {
  if (s === "") return null;
  const gap = s.indexOf("::");
  const head = gap >= 0 ? s.slice(0, gap) : s;
  const tail = gap >= 0 ? s.slice(gap + 2) : null;
  const groups = (part: string, allowV4: boolean): number[] | null => {
    const out: number[] = [];
    if (part === "") return out;
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (allowV4 && i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseV4(piece);
        if (v4 === null) return null;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const front = tail === null ? groups(head, true) : groups(head, false);
  const back = tail === null ? [] : groups(tail, true);
  if (front === null || back === null) return null;
  const total = front.length + back.length;
  if ((tail === null && total !== 8) || (tail !== null && total > 7)) return null;
  const all = [...front, ...new Array<number>(8 - total).fill(0), ...back];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function parseAddress(s: string): bigint | null {
  if (s.includes(":")) return parseV6(s);
  const v4 = parseV4(s);
  return v4 === null ? null : V4_MAPPED | BigInt(v4);
}

function prefixMask(bits: number, width: number): bigint {
  const ones = (ALL << BigInt(width - bits)) & ALL;
  return width === 32 ? ones | (ALL ^ ((1n << 32n) - 1n)) : ones;
}

interface Subnet { addr: bigint; mask: bigint }

/** mod_wsgi's `wsgi_looks_like_ip` then `apr_ipsubnet_create`. */
function parseSubnet(entry: string): Subnet {
  const bad = (): never => {
    throw new NodewsgiError("E_PROXY_LIST", `Unable to parse trusted proxy IP address/subnet of "${entry}".`);
  };
  const looksLikeIp = entry.includes(":") ? /^[0-9a-f:/]+$/.test(entry) : /^[0-9./]+$/.test(entry);
  if (!looksLikeIp) bad();
  const slash = entry.indexOf("/");
  const ip = slash >= 0 ? entry.slice(0, slash) : entry;
  const mask = slash >= 0 ? entry.slice(slash + 1) : null;
  if (ip.includes(":")) {
    const addr = parseV6(ip) ?? bad();
    let bits = 128;
    if (mask !== null) {
      if (!/^[0-9]+$/.test(mask) || Number(mask) < 1 || Number(mask) > 128) bad();
      bits = Number(mask);
    }
    const m = prefixMask(bits, 128);
    return { addr: addr & m, mask: m };
  }
  const parts = ip.split(".");
  if (parts.length > 4) bad();
  let addr = 0;
  parts.forEach((p, i) => {
    if (!/^[0-9]+$/.test(p) || Number(p) > 255) bad();
    addr += Number(p) * 2 ** (24 - 8 * i);
  });
  let bits = 8 * parts.length;
  if (mask !== null) {
    if (mask.includes(".")) {
      const dotted = parseV4(mask) ?? bad();
      const binary = dotted.toString(2).padStart(32, "0");
      if (!/^1*0*$/.test(binary)) bad();
      bits = binary.indexOf("0") < 0 ? 32 : binary.indexOf("0");
    } else {
      if (!/^[0-9]+$/.test(mask) || Number(mask) < 1 || Number(mask) > 32) bad();
      bits = Number(mask);
    }
  }
  const m = prefixMask(bits, 32);
  return { addr: (V4_MAPPED | BigInt(addr)) & m, mask: m };
}

class JsProxyList implements ProxyList {
  private readonly subnets: Subnet[];
  constructor(entries: readonly string[]) {
    this.subnets = entries.map(parseSubnet);
  }
  contains(address: string): boolean {
    const a = parseAddress(address);
    return a !== null && this.subnets.some((s) => (a & s.mask) === s.addr);
  }
}

const CLIENT = ["HTTP_X_FORWARDED_FOR", "HTTP_X_CLIENT_IP", "HTTP_X_REAL_IP"];
const SCHEME = ["HTTP_X_FORWARDED_HTTPS", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SCHEME", "HTTP_X_FORWARDED_SSL", "HTTP_X_HTTPS", "HTTP_X_SCHEME"];
const HOST = ["HTTP_X_FORWARDED_HOST", "HTTP_X_HOST"];
const SCRIPT = ["HTTP_X_SCRIPT_NAME", "HTTP_X_FORWARDED_SCRIPT_NAME"];

/** mod_wsgi trims X-Forwarded-For items with `apr_isspace`. */
const trimStart = (s: string) => s.replace(/^[ \t\n\v\f\r]+/, "");
const trimEnd = (s: string) => s.replace(/[ \t\n\v\f\r]+$/, "");

function getKey(environ: string[], key: string): string | undefined {
  for (let i = 0; i + 1 < environ.length; i += 2) if (environ[i] === key) return environ[i + 1];
  return undefined;
}

function putKey(environ: string[], key: string, value: string): void {
  for (let i = 0; i + 1 < environ.length; i += 2) {
    if (environ[i] === key) {
      environ[i + 1] = value;
      return;
    }
  }
  environ.push(key, value);
}

/** mod_wsgi 4.9's `wsgi_process_forwarded_for`. */
function forwardedFor(environ: string[], set: string[], value: string, proxies: ProxyList | null): void {
  if (proxies === null) {
    const rest = trimStart(value);
    if (rest !== "") set.push("REMOTE_ADDR", trimEnd(rest.split(",")[0]));
    return;
  }
  const items: string[] = [];
  let rest = value;
  for (;;) {
    rest = trimStart(rest);
    if (rest === "") break;
    const comma = rest.indexOf(",");
    items.push(trimEnd(comma >= 0 ? rest.slice(0, comma) : rest));
    rest = comma >= 0 ? rest.slice(comma + 1) : "";
  }
  if (items.length === 0) return;
  let first = -1;
  for (let i = items.length - 1; i >= 0; i--) {
    if (parseAddress(items[i]) === null || !proxies.contains(items[i])) break;
    first = i;
  }
  const from = first >= 0 ? Math.max(first - 1, 0) : items.length - 1;
  set.push("REMOTE_ADDR", items[from]);
  putKey(environ, "HTTP_X_FORWARDED_FOR", items.slice(from).join(", "));
}

function applyTrustedProxyHeaders(
  environ: string[], remoteAddress: string, trustedHeaders: readonly string[], proxies: ProxyList | null,
): ProxyOverrides {
  const set: string[] = [];
  if (trustedHeaders.length === 0) return { set };
  const trusted = proxies === null || proxies.contains(remoteAddress);
  const matched = new Map<readonly string[], string | null>();
  const mark = (group: readonly string[], kept: string | null) => {
    if (kept !== null || !matched.has(group)) matched.set(group, kept ?? matched.get(group) ?? null);
  };
  for (const header of trustedHeaders) {
    const name = http2env(header);
    if (name === null) continue;
    const value = trusted ? getKey(environ, name) : undefined;
    const has = value !== undefined;
    if (CLIENT.includes(name)) {
      if (has) {
        if (name === "HTTP_X_FORWARDED_FOR") forwardedFor(environ, set, value, proxies);
        else set.push("REMOTE_ADDR", value);
      }
      mark(CLIENT, has ? name : null);
    } else if (HOST.includes(name)) {
      if (has) putKey(environ, "HTTP_HOST", value);
      mark(HOST, has ? name : null);
    } else if (name === "HTTP_X_FORWARDED_SERVER") {
      if (has) set.push("SERVER_NAME", value);
    } else if (name === "HTTP_X_FORWARDED_PORT") {
      if (has) set.push("SERVER_PORT", value);
    } else if (SCRIPT.includes(name)) {
      if (has) set.push("mod_wsgi.mount_point", value, "SCRIPT_NAME", value);
      mark(SCRIPT, has ? name : null);
    } else if (SCHEME.includes(name)) {
      if (has) {
        const v = value.toLowerCase();
        const on = ["HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SCHEME", "HTTP_X_SCHEME"].includes(name)
          ? v === "https"
          : v === "on" || v === "true" || v === "1";
        if (on) set.push("HTTPS", "1", "wsgi.url_scheme", "https");
      }
      mark(SCHEME, has ? name : null);
    }
  }
  // Every synonym of a configured category goes, except the header actually applied.
  for (const group of [CLIENT, SCHEME, HOST, SCRIPT]) {
    if (!matched.has(group)) continue;
    const kept = matched.get(group);
    for (let i = environ.length - 2; i >= 0; i -= 2) {
      if (group.includes(environ[i]) && environ[i] !== kept) environ.splice(i, 2);
    }
  }
  return { set };
}

// ---------------------------------------------------------------------------------------------
// Paths: Apache 2.4's ap_normalize_path + ap_unescape_url_ex (see native/src/path.rs).

const SLASH = 0x2f, DOT = 0x2e, PERCENT = 0x25;

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

function normalizeSegments(path: number[], decodeUnreserved: boolean): boolean {
  const at = (i: number) => path[i] ?? 0;
  let ok = true;
  let l = 1, w = 1;
  while (l < path.length) {
    if (decodeUnreserved && path[l] === PERCENT) {
      const h = hexValue(path[l + 1]), lo = hexValue(path[l + 2]);
      if (h >= 0 && lo >= 0) {
        const c = h * 16 + lo;
        if (isUnreserved(c)) {
          l += 2;
          path[l] = c;
        }
      } else {
        ok = false;
      }
    }
    if (w === 0 || path[w - 1] === SLASH) {
      if (path[l] === SLASH) {
        while (at(l) === SLASH) l++;
        continue;
      }
      if (path[l] === DOT) {
        const next = at(l + 1);
        if (next === 0 || next === SLASH) {
          l += l + 1 < path.length ? 2 : 1;
          continue;
        }
        let n = l + 1;
        let dotdot = at(n) === DOT;
        if (!dotdot && decodeUnreserved && at(n) === PERCENT) {
          n++;
          if (at(n) === 0x32) {
            n++;
            dotdot = at(n) === 0x65 || at(n) === 0x45;
          }
        }
        const after = at(n + 1);
        if (dotdot && (after === 0 || after === SLASH)) {
          if (w > 1) {
            w--;
            while (w > 0 && path[w - 1] !== SLASH) w--;
          } else {
            ok = false;
          }
          l = n + 1;
          if (l < path.length) l++;
          continue;
        }
      }
    }
    path[w++] = path[l++];
  }
  path.length = w;
  return ok;
}

function unescapePath(path: number[], slashes: EncodedSlashes): { path: number[]; status: 0 | 400 | 404 } {
  const out: number[] = [];
  let badEscape = false, badPath = false;
  for (let y = 0; y < path.length;) {
    const c = path[y];
    if (c !== PERCENT) {
      out.push(c);
      y++;
      continue;
    }
    const h = hexValue(path[y + 1]), lo = hexValue(path[y + 2]);
    if (h < 0 || lo < 0) {
      badEscape = true;
      out.push(c);
      y++;
      continue;
    }
    const d = h * 16 + lo;
    if (d === 0 || (slashes === "off" && d === SLASH)) {
      badPath = true;
      out.push(d);
    } else if (isUnreserved(d) || (slashes === "nodecode" && d === SLASH)) {
      out.push(path[y], path[y + 1], path[y + 2]);
    } else {
      out.push(d);
    }
    y += 3;
  }
  return { path: out, status: badEscape ? 400 : badPath ? 404 : 0 };
}

function normalizePath(rawPath: string, encodedSlashes: EncodedSlashes): NormalizedPath {
  if (rawPath.charCodeAt(0) !== SLASH) {
    return rawPath === "*" ? { ok: true, path: rawPath } : { ok: false, status: 400 };
  }
  const units: number[] = [];
  for (let i = 0; i < rawPath.length; i++) units.push(rawPath.charCodeAt(i));
  if (!normalizeSegments(units, true)) return { ok: false, status: 400 };
  const { path, status } = unescapePath(units, encodedSlashes);
  if (status !== 0) return { ok: false, status };
  if (encodedSlashes === "on") normalizeSegments(path, false);
  let out = "";
  for (const c of path) out += String.fromCharCode(c);
  return { ok: true, path: out };
}

// ---------------------------------------------------------------------------------------------

function bodyVerdict(declaredLength: number, chunked: boolean, limit: number, acceptChunked: boolean): 0 | 411 | 413 {
  if (chunked && !acceptChunked) return 411;
  if (limit > 0 && declaredLength > limit) return 413;
  return 0;
}

export const jsEngine: Engine = {
  name: "js",
  compileAliasTable: (rules) => new JsAliasTable(rules),
  headersToEnviron,
  compileProxyList: (entries) => new JsProxyList(entries),
  applyTrustedProxyHeaders,
  normalizePath,
  bodyVerdict,
};
