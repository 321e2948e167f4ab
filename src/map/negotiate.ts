/**
 * mod_negotiation's MultiViews for a missing file `base`: the variants are the files named
 * `base.*` in its directory whose every extension means something to mod_mime (a handler too
 * under MultiviewsMatch Handlers; anything under Any) and that have a media type. The best one
 * is chosen as httpd's is_variant_better does: Accept quality (times the type's `qs`), then
 * Accept-Language quality, then LanguagePriority's order, then the Accept level, then
 * Accept-Charset, then Accept-Encoding, then the smaller file. DefaultLanguage gives files
 * without a language extension one; `prefer-language`, `no-gzip` and `gzip-only-text/html`
 * (request environment) narrow the choice as in httpd's best_match.
 *
 * The answer carries httpd's negotiation headers: on a GET/HEAD without path info (a
 * "transparent" negotiation) `Content-Location` (the variant), `Vary: negotiate,...` and
 * `TCN: choice` (`TCN: list` and `Alternates` when nothing is chosen); otherwise only the
 * `Vary` of the dimensions the variants differ in. A client's `Negotiate` header (RFC 2295)
 * asks for `Alternates` on the choice, or for the list itself: 300 Multiple Choices.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DirSettings } from "../config/model";
import type { HeaderPair } from "../http/types";
import { defaultMimeTable } from "../static/mime";
import { fileType } from "../static/file-type";
import { escapeHtml } from "../static/error-page";
import { fsPath } from "../engine/byte-string";
import { escapePathSegment } from "./uri-escape";

export type Negotiation =
  | { readonly kind: "none" }
  | {
      readonly kind: "found";
      readonly name: string;
      /** Sent before the variant's own headers, error responses included (err_headers_out). */
      readonly headers: readonly HeaderPair[];
      /** The directory the variants came from: its mtime is the variant list validator. */
      readonly dirStat: fs.BigIntStats;
    }
  /** 406 Not Acceptable, or 300 Multiple Choices for a client that negotiates transparently. */
  | { readonly kind: "list"; readonly status: 300 | 406; readonly headers: readonly HeaderPair[]; readonly variantList: string };

export interface NegotiationRequest {
  readonly method: string;
  readonly accept?: string | undefined;
  readonly acceptLanguage?: string | undefined;
  readonly acceptCharset?: string | undefined;
  readonly acceptEncoding?: string | undefined;
  /** The client's Negotiate header (RFC 2295). */
  readonly negotiate?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly hasQuery: boolean;
  readonly pathInfo: string;
  /** The request's environment as mod_setenvif (and mod_rewrite's E=) left it. */
  readonly env: ReadonlyMap<string, string>;
}

/** The type mod_negotiation gives a script variant that names none (CGI_MAGIC_TYPE). */
const CGI_MAGIC_TYPE = "application/x-httpd-cgi";

interface Variant {
  readonly name: string;
  /** The media type without parameters, lower-case. */
  readonly type: string;
  /** The type's `level` parameter (text/html is level 2 unless it says otherwise). */
  readonly level: number;
  /** Source quality: the type's `qs` parameter, 1 without one. */
  readonly qs: number;
  readonly charset: string;
  readonly languages: readonly string[];
  readonly encoding: string;
  readonly size: number;
  /** Has a handler: its length is not its output's (no `{length}` in Alternates). */
  readonly script: boolean;
}

interface AcceptItem {
  readonly name: string;
  readonly q: number;
  readonly level: number;
}

/** How the client's Negotiate header (if any) lets the server answer (parse_negotiate_header). */
interface NegotiateFlags {
  readonly uaSupportsTrans: boolean;
  readonly sendAlternates: boolean;
  readonly mayChoose: boolean;
  readonly useRvsa: boolean;
  readonly dontFiddle: boolean;
}

const PLAIN_FLAGS: NegotiateFlags = { uaSupportsTrans: false, sendAlternates: false, mayChoose: true, useRvsa: false, dontFiddle: false };

interface Scores {
  /** Accept quality of the type. */
  mime: number;
  /** 1 for a star/star range, 2 for type/star, 3 for the type itself. */
  stars: number;
  /** The variant's level when the client named its type at that level or above, else 0. */
  levelMatched: number;
  lang: number;
  /** Position in LanguagePriority, -1 for none. */
  langIndex: number;
  charset: number;
  enc: number;
}

export function negotiate(missing: string, settings: DirSettings, req: NegotiationRequest): Negotiation {
  const dir = path.dirname(missing);
  const base = path.basename(missing);
  let names: string[];
  let dirStat: fs.BigIntStats;
  try {
    // latin1: the names as byte strings, like the path they are compared with.
    names = fs.readdirSync(fsPath(dir), { encoding: "latin1" });
    dirStat = fs.statSync(fsPath(dir), { bigint: true });
  } catch {
    return { kind: "none" };
  }
  const variants: Variant[] = [];
  // httpd sorts the variants by name so the choice does not depend on readdir's order.
  for (const n of names.sort()) {
    if (!n.startsWith(base + ".")) continue;
    const v = variantOf(dir, n, settings);
    if (v) variants.push(v);
  }
  if (variants.length === 0) return { kind: "none" };

  // do_negotiation: transparent only for GET/HEAD without path info.
  const transparent = (req.method === "GET" || req.method === "HEAD") && req.pathInfo === "";
  const flags = transparent ? negotiateFlags(req.negotiate, req.userAgent) : PLAIN_FLAGS;
  const accepts = req.accept !== undefined ? parseHeaderLine(req.accept) : null;
  // accept_q: an explicit q below 1 anywhere stops the wildcard fiddle.
  const acceptQ = accepts?.some((a) => a.q < 1) ?? false;
  const acceptList: AcceptItem[] = accepts ?? [{ name: "*/*", q: 1, level: 0 }];
  // maybe_add_default_accepts: scripts rank below static files, unless the request looks like
  // a script's (not GET/HEAD, a query, path info).
  const preferScripts = (req.method !== "GET" && req.method !== "HEAD") || req.hasQuery || req.pathInfo !== "";
  acceptList.push({ name: CGI_MAGIC_TYPE, q: flags.useRvsa ? 0 : preferScripts ? 2 : 0.001, level: 0 });

  const ctx: Ctx = {
    settings,
    flags,
    accepts: acceptList,
    acceptQ,
    langs: req.acceptLanguage !== undefined ? parseHeaderLine(req.acceptLanguage) : null,
    charsets: req.acceptCharset !== undefined ? parseHeaderLine(req.acceptCharset) : null,
    encodings: req.acceptEncoding !== undefined ? parseHeaderLine(req.acceptEncoding) : null,
    defaultLangQ: !flags.dontFiddle && variants.some((v) => v.languages.length > 0) ? 0.0001 : 1,
  };
  const best = bestMatch(ctx, variants, req.env);

  if (best === null) {
    // alg_list: always with Alternates; 300 for a client that can choose for itself.
    const headers = negotiationHeaders(variants, transparent, true, "list");
    const variantList = makeVariantList(variants);
    if (transparent && flags.uaSupportsTrans) return { kind: "list", status: 300, headers, variantList };
    return { kind: "list", status: 406, headers, variantList };
  }
  const headers: HeaderPair[] = [];
  if (transparent) headers.push(["Content-Location", escapePathSegment(best.name)]);
  headers.push(...negotiationHeaders(variants, transparent, flags.sendAlternates, "choice"));
  return { kind: "found", name: best.name, headers, dirStat };
}

interface Ctx {
  readonly settings: DirSettings;
  readonly flags: NegotiateFlags;
  readonly accepts: readonly AcceptItem[];
  readonly acceptQ: boolean;
  readonly langs: readonly AcceptItem[] | null;
  readonly charsets: readonly AcceptItem[] | null;
  readonly encodings: readonly AcceptItem[] | null;
  /** set_default_lang_quality: variants without a language, when others have one. */
  readonly defaultLangQ: number;
}

/**
 * best_match: the best variant, or null for a list response. `prefer-language` first limits the
 * candidates to that language (and makes it fully acceptable); if that chooses nothing, all
 * compete. `no-gzip` drops every encoded variant, `gzip-only-text/html=1` every encoded one
 * but text/html.
 */
function bestMatch(ctx: Ctx, variants: readonly Variant[], env: ReadonlyMap<string, string>): Variant | null {
  if (!ctx.flags.mayChoose) return null;
  const discard = env.has("no-gzip") ? "all" : env.get("gzip-only-text/html") === "1" ? "all-but-html" : null;
  let preferred = env.get("prefer-language") ?? null;
  for (;;) {
    let best: { v: Variant; s: Scores } | null = null;
    let bestQ = 0;
    for (const v of variants) {
      if (discard && discardedByEnv(v, discard)) continue;
      if (preferred !== null && !v.languages.includes(preferred)) continue;
      const s = scoresOf(ctx, v, preferred !== null);
      const q = betterQ(v, s, best, bestQ);
      if (q !== null) {
        best = { v, s };
        bestQ = q;
      }
    }
    // RVSA/1.0 (Negotiate: 1.0) as httpd 2.4 runs it never records a best quality: always a list.
    const chosen = !ctx.flags.useRvsa && bestQ > 0 && best !== null;
    if (preferred !== null && !chosen) {
      preferred = null;
      continue;
    }
    return chosen ? best!.v : null;
  }
}

function discardedByEnv(v: Variant, discard: "all" | "all-but-html"): boolean {
  if (isIdentity(v.encoding) || v.encoding === "identity") return false;
  return discard === "all" || !v.type.startsWith("text/html");
}

function scoresOf(ctx: Ctx, v: Variant, preferredLanguage: boolean): Scores {
  const s: Scores = { mime: 0, stars: 0, levelMatched: 0, lang: 1, langIndex: -1, charset: 1, enc: 1 };
  acceptQuality(ctx, v, s);
  if (preferredLanguage) s.lang = 1;
  else languageQuality(ctx, v, s);
  s.enc = encodingQuality(ctx.encodings, v.encoding);
  s.charset = charsetQuality(ctx, v);
  return s;
}

/**
 * is_variant_better (the Apache algorithm): the variant's quality if it beats `best`, else
 * null. Ties fall through type quality, language quality, LanguagePriority, level, charset
 * (a named charset other than iso-8859-1 wins), encoding, then the smaller file.
 */
function betterQ(v: Variant, s: Scores, best: { v: Variant; s: Scores } | null, bestQ: number): number | null {
  if (s.enc === 0 || s.lang === 0 || v.qs === 0 || s.charset === 0 || s.mime === 0) return null;
  const q = Math.fround(s.mime * v.qs);
  if (q === 0 || q < bestQ) return null;
  if (q > bestQ || best === null) return q;
  const b = best.s;
  if (s.lang !== b.lang) return s.lang > b.lang ? q : null;
  if (b.langIndex !== -1 && (s.langIndex === -1 || s.langIndex > b.langIndex)) return null;
  if (s.langIndex !== -1 && (b.langIndex === -1 || s.langIndex < b.langIndex)) return q;
  const lev = levelCmp(v, s, best.v, b);
  if (lev !== 0) return lev > 0 ? q : null;
  if (s.charset < b.charset) return null;
  const named = (x: Variant) => x.charset !== "" && x.charset !== "iso-8859-1";
  if (s.charset > b.charset || (named(v) && !named(best.v))) return q;
  if (s.enc !== b.enc) return s.enc > b.enc ? q : null;
  return v.size < best.v.size ? q : null;
}

/** level_cmp: between variants of one type, the highest level the client named, else the lowest. */
function levelCmp(a: Variant, as: Scores, b: Variant, bs: Scores): number {
  const aHtml = a.type === "text/html";
  const bHtml = b.type === "text/html";
  if (aHtml && !bHtml) return 0;
  if (!aHtml && a.type !== b.type) return 0;
  if (as.levelMatched !== bs.levelMatched) return as.levelMatched > bs.levelMatched ? 1 : -1;
  if (a.level !== b.level) return a.level < b.level ? 1 : -1;
  return 0;
}

/**
 * set_accept_quality: the first most specific matching range (an exact type only at a level
 * the client accepts); without any q below 1, wildcards count 0.01 and 0.02.
 */
function acceptQuality(ctx: Ctx, v: Variant, s: Scores): void {
  for (const a of ctx.accepts) {
    const before = s.stars;
    let stars: number;
    if (a.name === "*" || a.name === "*/*") stars = 1;
    else if (a.name.length > 2 && a.name.endsWith("/*") && v.type.startsWith(a.name.slice(0, -1))) stars = 2;
    else if (a.name === v.type && a.level >= v.level) {
      stars = 3;
      s.levelMatched = v.level;
    } else continue;
    if (stars > s.stars) s.stars = stars;
    if (s.stars === before) continue;
    const fiddle = !ctx.flags.dontFiddle && !ctx.acceptQ;
    s.mime = fiddle && s.stars === 1 ? 0.01 : fiddle && s.stars === 2 ? 0.02 : a.q;
  }
}

/**
 * set_language_quality: the longest matching range (exact, or a prefix up to `-`) of each tag,
 * the best q over the tags; `*` for tags nothing else matched; 0.001 when only a range's primary
 * tag matches (`en-us` asked, `en` offered); 0 otherwise. No Accept-Language: 1. Then
 * ForceLanguagePriority: Prefer records the LanguagePriority position of an acceptable variant
 * (the tie-breaker), Fallback makes an unacceptable one barely acceptable at its position.
 */
function languageQuality(ctx: Ctx, v: Variant, s: Scores): void {
  if (v.languages.length === 0) {
    if (!ctx.flags.dontFiddle) s.lang = ctx.defaultLangQ;
    return;
  }
  const accept = ctx.langs;
  if (accept !== null) {
    let best: AcceptItem | null = null;
    let star: AcceptItem | null = null;
    let fiddle = 0;
    let matchOnStar = false;
    for (const lang of v.languages) {
      let thisTag: AcceptItem | null = null;
      for (const a of accept) {
        if (a.name === "*") {
          star ??= a;
          continue;
        }
        if (lang.startsWith(a.name) && (lang.length === a.name.length || lang[a.name.length] === "-")) {
          if (!thisTag || a.name.length > thisTag.name.length) thisTag = a;
        }
        const dash = a.name.indexOf("-");
        if (!thisTag && !ctx.flags.dontFiddle && dash >= 0 && lang.startsWith(a.name.slice(0, dash))) fiddle = 0.001;
      }
      if (!best || (thisTag && thisTag.q > best.q)) best = thisTag;
      if (!thisTag && star) matchOnStar = true;
    }
    if (matchOnStar && star && (!best || star.q > best.q)) best = star;
    s.lang = best ? best.q : fiddle;
  }
  const force = ctx.settings.forceLanguagePriority?.value ?? { prefer: true, fallback: false };
  if (!(force.prefer || (force.fallback && s.lang === 0))) return;
  const priority = ctx.settings.languagePriority?.value;
  if (!priority) return;
  let bestIdx = -1;
  for (const lang of v.languages) {
    // find_lang_index: the first entry that is a prefix of the tag, case-insensitively.
    const idx = priority.findIndex((p) => lang.slice(0, p.length).toLowerCase() === p.toLowerCase());
    if (idx >= 0 && (bestIdx === -1 || idx < bestIdx)) bestIdx = idx;
  }
  if (bestIdx < 0) return;
  if (s.lang !== 0) {
    if (force.prefer) s.langIndex = bestIdx;
  } else if (force.fallback) {
    s.langIndex = bestIdx;
    s.lang = 0.0001;
  }
}

/** set_charset_quality: text without a charset counts as iso-8859-1, which is acceptable unless refused. */
function charsetQuality(ctx: Ctx, v: Variant): number {
  const accept = ctx.charsets;
  if (accept === null) return 1;
  let charset = v.charset;
  if (charset === "") {
    if (!v.type.startsWith("text/") || ctx.flags.dontFiddle) return 1;
    charset = "iso-8859-1";
  }
  let star: AcceptItem | undefined;
  for (const a of accept) {
    if (a.name === charset) return a.q;
    if (a.name === "*") star = a;
  }
  if (star) return star.q;
  return charset === "iso-8859-1" ? 1 : 0;
}

function isIdentity(encoding: string): boolean {
  return encoding === "" || encoding === "7bit" || encoding === "8bit" || encoding === "binary";
}

/** set_encoding_quality: no Accept-Encoding makes an encoded variant half as good. */
function encodingQuality(accept: readonly AcceptItem[] | null, encoding: string): number {
  const identity = isIdentity(encoding);
  if (accept === null) return identity ? 1 : 0.5;
  const enc = (identity ? "identity" : encoding).replace(/^x-/, "");
  let star: AcceptItem | undefined;
  for (const a of accept) {
    const name = a.name.replace(/^x-/, "");
    if (name === enc) return a.q;
    if (name === "*") star = a;
  }
  if (star) return star.q;
  return identity ? 0.0001 : 0;
}

/**
 * parse_negotiate_header. `trans` alone from Lynx is ignored (Lynx sends it without supporting
 * TCN). Otherwise the server may not choose unless the header says `*` (any algorithm) or
 * `1.0` (RVSA); `trans`, `vlist`, `guess-small`, a version or `*` mean the client supports
 * transparent negotiation and gets Alternates.
 */
function negotiateFlags(header: string | undefined, userAgent: string | undefined): NegotiateFlags {
  if (header === undefined) return PLAIN_FLAGS;
  if (header === "trans" && userAgent?.startsWith("Lynx")) return PLAIN_FLAGS;
  let uaSupportsTrans = false, mayChoose = false, useRvsa = false, dontFiddle = false;
  for (const raw of header.split(",")) {
    const tok = raw.trim().toLowerCase();
    if (tok === "") continue;
    if (tok === "trans" || tok === "vlist" || tok === "guess-small" || /^[0-9]/.test(tok) || tok === "*") {
      uaSupportsTrans = true;
      if (tok === "1.0") {
        mayChoose = true;
        useRvsa = true;
        dontFiddle = true;
      } else if (tok.startsWith("*")) {
        mayChoose = true;
        dontFiddle = true;
      }
    }
  }
  return { uaSupportsTrans, sendAlternates: uaSupportsTrans, mayChoose, useRvsa, dontFiddle };
}

/** Alternates (when asked for), Vary, TCN (when transparent), as set_neg_headers adds them. */
function negotiationHeaders(variants: readonly Variant[], transparent: boolean, sendAlternates: boolean, result: "choice" | "list"): HeaderPair[] {
  const headers: HeaderPair[] = [];
  if (sendAlternates) headers.push(["Alternates", alternates(variants)]);
  const vary = varyOf(variants, transparent);
  if (vary) headers.push(["Vary", vary]);
  if (transparent) headers.push(["TCN", result]);
  return headers;
}

function variantOf(dir: string, name: string, settings: DirSettings): Variant | null {
  const match = settings.multiviewsMatch?.value ?? "NegotiatedOnly";
  const ft = fileType(name, settings, defaultMimeTable());
  const script = name.split(".").slice(1).some((e) => !!settings.addHandlers?.get(e.toLowerCase())?.value);
  const handlersCount = match === "Handlers" || match === "Filters Handlers";
  for (const e of ft.unknown) {
    if (match === "Any") continue;
    if (handlersCount && settings.addHandlers?.get(e.toLowerCase())?.value) continue;
    return null;
  }
  let size = 0;
  try {
    const st = fs.statSync(fsPath(path.join(dir, name)));
    if (!st.isFile()) return null;
    size = st.size;
  } catch {
    return null;
  }
  let type = ft.type;
  if (type === undefined) {
    if (!script) return null;
    type = CGI_MAGIC_TYPE;
  }
  const t = parseHeaderLine(type)[0];
  if (!t) return null;
  return {
    name,
    type: t.name,
    level: t.level,
    qs: t.q,
    charset: t.charset,
    languages: ft.languages,
    encoding: ft.encoding ?? "",
    size,
    script,
  };
}

interface ParsedItem extends AcceptItem {
  readonly charset: string;
}

/**
 * do_header_line/get_entry: comma-separated items `name;param=value...`, lower-cased; `q`
 * (or `qs`) as atoq reads it, `level` as an integer (text/html is level 2 unless it says),
 * `charset`.
 */
function parseHeaderLine(header: string): ParsedItem[] {
  const items: ParsedItem[] = [];
  for (const part of header.split(",")) {
    const [rawName, ...params] = part.split(";");
    const name = rawName!.trim().toLowerCase();
    if (name === "" && params.length === 0) continue;
    let q = 1;
    let level = name === "text/html" ? 2 : 0;
    let charset = "";
    for (const p of params) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      const attr = p.slice(0, eq).trim().toLowerCase();
      const value = p.slice(eq + 1).trim().replace(/^"([^"]*)"?.*$/, "$1").split(/\s/)[0]!.toLowerCase();
      if (attr === "q" || attr === "qs") q = atoq(value);
      else if (attr === "level") level = parseInt(value, 10) || 0;
      else if (attr === "charset") charset = value;
    }
    items.push({ name, q, level, charset });
  }
  return items;
}

/** atoq: `0.xyz` (up to three digits) or `.xyz`; anything not starting `0` or `.` is 1. */
function atoq(s: string): number {
  if (s === "") return 1;
  if (s[0] !== "." && s[0] !== "0") return 1;
  const m = /^0?\.([0-9]?)([0-9]?)([1-9]?)/.exec(s);
  if (!m) return 0;
  const digits = (d: string | undefined) => (d ? Number(d) : 0);
  return Math.fround((digits(m[1]) * 100 + (m[1] ? digits(m[2]) * 10 : 0) + (m[1] && m[2] ? digits(m[3]) : 0)) / 1000);
}

/** Vary: `negotiate` when transparent, then each dimension in which the variants differ. */
function varyOf(variants: readonly Variant[], transparent: boolean): string {
  const first = variants[0]!;
  const differs = (f: (v: Variant) => string) => variants.some((v) => f(v) !== f(first));
  const parts: string[] = [];
  if (transparent) parts.push("negotiate");
  if (differs((v) => v.type)) parts.push("accept");
  if (differs((v) => v.languages.join(","))) parts.push("accept-language");
  if (differs((v) => v.charset)) parts.push("accept-charset");
  if (differs((v) => v.encoding)) parts.push("accept-encoding");
  return parts.join(",");
}

/** The source quality as set_neg_headers prints it: `%1.3f` without trailing zeros (`1`, `0.5`). */
function qString(q: number): string {
  let s = q.toFixed(3);
  if (s[4] === "0") {
    s = s.slice(0, 4);
    if (s[3] === "0") {
      s = s.slice(0, 3);
      if (s[2] === "0") s = s.slice(0, 1);
    }
  }
  return s;
}

/** The Alternates header (RFC 2295), as set_neg_headers writes it; scripts get no length. */
function alternates(variants: readonly Variant[]): string {
  return variants
    .map((v) => {
      let s = `{"${escapePathSegment(v.name)}" ${qString(v.qs)} {type ${v.type}}`;
      if (v.charset) s += ` {charset ${v.charset}}`;
      if (v.languages.length > 0) s += ` {language ${v.languages.join(",")}}`;
      if (v.encoding) s += ` {encoding ${v.encoding}}`;
      if (!v.script) s += ` {length ${v.size}}`;
      return s + "}";
    })
    .join(", ");
}

/** make_variant_list: the list the 406 and 300 pages show. */
function makeVariantList(variants: readonly Variant[]): string {
  let s = "Available variants:\n<ul>\n";
  for (const v of variants) {
    s += `<li><a href="${escapePathSegment(v.name)}">${escapeHtml(v.name)}</a> , type ${v.type}`;
    if (v.languages.length > 0) s += `, language ${v.languages.join(",")}`;
    if (v.charset) s += `, charset ${v.charset}`;
    if (v.encoding) s += `, encoding ${v.encoding}`;
    s += "</li>\n";
  }
  return s + "</ul>\n";
}
