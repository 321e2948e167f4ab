/**
 * The URL escaping mod_rewrite applies (ap_unescape_url, mod_rewrite's escape_backref and
 * escape_absolute_uri; ap_escape_uri itself is in uri-escape.ts). Apache works on bytes, and so
 * do these: their input and output are byte strings (one char per octet, engine/byte-string.ts),
 * as the URL-path, header values, map values and the compiled substitution are.
 */
import { escapeUri } from "./uri-escape";

/** ap_escape_uri under the name rewrite.ts and rewrite-map.ts import it by. */
export { escapeUri as escapeUriPath } from "./uri-escape";

const HEX = "0123456789abcdef";
const pct = (b: number) => "%" + HEX[b >> 4] + HEX[b & 15];
const isAlnum = (b: number) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

function mapBytes(s: string, f: (b: number) => string): string {
  let out = "";
  for (const b of Buffer.from(s, "latin1")) out += f(b);
  return out;
}

/**
 * ap_unescape_url: every valid %XX decoded (a bad escape stays as it is; a decoded NUL ends the
 * string as it does in C). The decoded octets come back as a byte string.
 */
export function unescapeUrl(s: string): string {
  if (!s.includes("%")) return s;
  const src = Buffer.from(s, "latin1");
  const out: number[] = [];
  const hex = (b: number | undefined) => b !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(b));
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25 && hex(src[i + 1]) && hex(src[i + 2])) {
      const v = parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16);
      if (v === 0) break;
      out.push(v);
      i += 2;
    } else {
      out.push(b);
    }
  }
  return Buffer.from(out).toString("latin1");
}

export interface BackrefEscapeOptions {
  /** B=chars: only these are escaped. */
  readonly escapeChars: string | null;
  /** BNE=chars: these are never escaped. */
  readonly noEscapeChars: string | null;
  /** BNP: a space becomes %20 rather than +. */
  readonly noPlus: boolean;
  /** BCTLS: only controls and space are escaped. */
  readonly ctls: boolean;
}

/** mod_rewrite's escape_backref, for [B]. */
export function escapeBackref(s: string, o: BackrefEscapeOptions): string {
  const has = (set: string | null, b: number) => set !== null && b < 0x80 && set.includes(String.fromCharCode(b));
  return mapBytes(s, (b) => {
    const vcharObs = (b >= 0x21 && b <= 0x7e) || b >= 0x80;
    const selected = (o.ctls ? !vcharObs : o.escapeChars === null) || has(o.escapeChars, b);
    if (selected && !has(o.noEscapeChars, b)) {
      if (isAlnum(b) || b === 0x5f) return String.fromCharCode(b);
      if (b === 0x20 && !o.noPlus) return "+";
      return pct(b);
    }
    return String.fromCharCode(b);
  });
}

/** True when `s` holds a control character or a space (ap_scan_vchar_obstext stops early). */
export function hasCtlOrSpace(s: string): boolean {
  return /[\x00-\x20\x7f]/.test(s);
}

/**
 * escape_absolute_uri: keep `scheme://host/`, escape the rest with ap_escape_uri (ldap URLs
 * keep their `?` separators). `schemeLen` is what isAbsoluteUri returned.
 */
export function escapeAbsoluteUri(uri: string, schemeLen: number): string {
  if (!schemeLen || uri.length < schemeLen) return uri;
  let cp = schemeLen;
  if (uri[cp - 1] === "/") {
    while (cp < uri.length && uri[cp] !== "/") cp++;
    if (cp >= uri.length || cp + 1 >= uri.length) return uri;
    cp++;
    if (uri.slice(0, 4).toLowerCase() === "ldap") {
      const tokens = uri.slice(cp).split("?");
      const head = tokens.slice(0, 4);
      if (tokens.length > 5) head.push(tokens.slice(4).join("?"));
      else if (tokens.length === 5) head.push(tokens[4]!);
      return uri.slice(0, cp) + head.map(escapeUri).join("?");
    }
  }
  return uri.slice(0, cp) + escapeUri(uri.slice(cp));
}

/**
 * is_absolute_uri: the length of a known `scheme://` (or `mailto:` ...) prefix, 0 otherwise,
 * and whether a query string makes sense for that scheme.
 */
export function isAbsoluteUri(uri: string): { len: number; query: boolean } {
  if (uri[0] === "/" || uri.length <= 5 || !uri.includes(":")) return NOT_ABSOLUTE;
  // The longest prefix is 11 characters ("balancer://"): only those need lower-casing.
  const l = uri.slice(0, 11).toLowerCase();
  for (const [prefix, query] of ABSOLUTE_PREFIXES) if (l.startsWith(prefix)) return { len: prefix.length, query };
  if (l.startsWith("unix:")) return { len: l.startsWith("unix://") ? 7 : 5, query: true };
  return NOT_ABSOLUTE;
}
const NOT_ABSOLUTE: { readonly len: number; readonly query: boolean } = Object.freeze({ len: 0, query: false });
const ABSOLUTE_PREFIXES: ReadonlyArray<readonly [string, boolean]> = [
  ["ajp://", true], ["balancer://", true], ["ftp://", false], ["fcgi://", true],
  ["gopher://", false], ["http://", true], ["https://", true], ["h2://", true], ["h2c://", true],
  ["ldap://", false], ["mailto:", true], ["news:", false], ["nntp://", false], ["scgi://", true],
  ["ws://", true], ["wss://", true],
];
