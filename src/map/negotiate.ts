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
      /** The variant's URI, relative to the negotiated resource's directory. */
      readonly name: string;
      readonly variant: Variant;
      /** Sent before the variant's own headers, error responses included (err_headers_out). */
      readonly headers: readonly HeaderPair[];
      /** The directory the variants came from (or the type map): its mtime is the variant list validator. */
      readonly dirStat: fs.BigIntStats;
      /** A transparent negotiation (TCN): its variant may not negotiate in turn (506). */
      readonly transparent: boolean;
    }
  /** A type map that cannot be read (404, 403) or parsed (500). */
  | { readonly kind: "failed"; readonly status: number; readonly reason: string }
  /** 406 Not Acceptable, or 300 Multiple Choices for a client that negotiates transparently. */
  | { readonly kind: "list"; readonly status: 300 | 406; readonly headers: readonly HeaderPair[]; readonly variantList: string };

/**
 * A negotiation through a type map that stopped reading at a bad Content-Length (AH00684) or
 * an inline body without its end tag (AH00685): the variants before it stand, and the line
 * httpd logs for it (error level, on every request) comes with the answer.
 */
export type TypeMapNegotiation = Negotiation & { readonly problem?: string };

/** The type a file is a type map by (mod_negotiation's MAP_FILE_MAGIC_TYPE), without a handler. */
export const TYPE_MAP_TYPE = "application/x-type-map";

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

export interface Variant {
  /** The file name (a URI relative to the directory, for a type map's variants). */
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
  /** The length in bytes, -1 when unknown (a type map's variant that names none and is not a file). */
  readonly size: number;
  /** Has a handler: its length is not its output's (no `{length}` in Alternates). */
  readonly script: boolean;
  /** A type map's Description: shown as it is in the variant list. */
  readonly description: string;
  /** A type map's inline Body: (its bytes). */
  readonly body?: Buffer;
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

/** MultiViews: negotiate the missing file `missing` from `name.*` in its directory. */
export function negotiate(missing: string, settings: DirSettings, req: NegotiationRequest): TypeMapNegotiation {
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
  // httpd sorts the variants by name so the choice does not depend on readdir's order (only the
  // candidates: a large directory costs one pass, not a sort of every name in it).
  const prefix = base + ".";
  for (const n of names.filter((name) => name.startsWith(prefix)).sort()) {
    const v = variantOf(dir, n, settings);
    if (v === "type-map") {
      // A type map among the candidates replaces them (read_types_multi); its messages name
      // the file asked for (r->filename).
      return negotiateTypeMap(path.join(dir, n), settings, req, prefersScripts(req), missing);
    }
    if (v) variants.push(v);
  }
  if (variants.length === 0) return { kind: "none" };
  // do_negotiation: transparent only for GET/HEAD without path info.
  return choose(variants, settings, req, { transparent: req.pathInfo === "", dirStat, preferScripts: prefersScripts(req) });
}

/**
 * mod_negotiation's handler for a type map (`AddHandler type-map .var`): the variants the map
 * lists. A request through a map with a variant elsewhere than beside it (a `/` in its URI) or
 * an inline body is not transparent. The handler never prefers scripts (MultiViews does for a
 * POST, a query or path info).
 */
/** Parsed type maps by path, with the file version they were read from (a map is read once per change, not per request). */
const typeMaps = new Map<string, { readonly mtimeNs: bigint; readonly size: bigint; readonly ino: bigint; readonly parsed: ParsedTypeMap }>();
const TYPE_MAPS_MAX = 256;

/** `requestFile`: the request's file name (r->filename), which httpd's syntax error lines name: the map's own, unless MultiViews found the map. */
export function negotiateTypeMap(mapFile: string, settings: DirSettings, req: NegotiationRequest, preferScripts = false, requestFile = mapFile): TypeMapNegotiation {
  const unreadable = (e: unknown): Negotiation => {
    const code = (e as NodeJS.ErrnoException).code;
    return { kind: "failed", status: code === "ENOENT" || code === "ENOTDIR" ? 404 : 403, reason: `AH00683: cannot access type map file: ${mapFile}` };
  };
  let mapStat: fs.BigIntStats;
  try {
    mapStat = fs.statSync(fsPath(mapFile), { bigint: true });
  } catch (e) {
    return unreadable(e);
  }
  const hit = typeMaps.get(mapFile);
  let parsed: ParsedTypeMap;
  if (hit && hit.mtimeNs === mapStat.mtimeNs && hit.size === mapStat.size && hit.ino === mapStat.ino) parsed = hit.parsed;
  else {
    let text: Buffer;
    try {
      text = fs.readFileSync(fsPath(mapFile));
    } catch (e) {
      return unreadable(e);
    }
    parsed = parseTypeMap(text, mapFile);
    if (typeMaps.size >= TYPE_MAPS_MAX) typeMaps.clear();
    typeMaps.set(mapFile, { mtimeNs: mapStat.mtimeNs, size: mapStat.size, ino: mapStat.ino, parsed });
  }
  const problem = parsed.problem;
  if (problem?.fatal) return { kind: "failed", status: 500, reason: problem.message(requestFile) };
  const variants = parsed.variants;
  const transparent = req.pathInfo === "" && variants.every((v) => !v.name.includes("/") && v.body === undefined);
  const n = choose(variants, settings, req, { transparent, dirStat: mapStat, preferScripts });
  return problem ? { ...n, problem: problem.message(requestFile) } : n;
}

function choose(
  variants: readonly Variant[],
  settings: DirSettings,
  req: NegotiationRequest,
  how: { transparent: boolean; dirStat: fs.BigIntStats; preferScripts: boolean },
): Negotiation {
  const transparent = (req.method === "GET" || req.method === "HEAD") && how.transparent;
  const flags = transparent ? negotiateFlags(req.negotiate, req.userAgent) : PLAIN_FLAGS;
  const accepts = req.accept !== undefined ? parseHeaderLine(req.accept) : null;
  // accept_q: an explicit q below 1 anywhere stops the wildcard fiddle.
  const acceptQ = accepts?.some((a) => a.q < 1) ?? false;
  const acceptList: AcceptItem[] = accepts ?? [{ name: "*/*", q: 1, level: 0 }];
  // maybe_add_default_accepts: scripts rank below static files, unless preferred.
  acceptList.push({ name: CGI_MAGIC_TYPE, q: flags.useRvsa ? 0 : how.preferScripts ? 2 : 0.001, level: 0 });

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
  return { kind: "found", name: best.name, variant: best, headers, dirStat: how.dirStat, transparent };
}

/** MultiViews prefers scripts for a request that looks like a script's: not GET/HEAD, a query, path info. */
function prefersScripts(req: NegotiationRequest): boolean {
  return (req.method !== "GET" && req.method !== "HEAD") || req.hasQuery || req.pathInfo !== "";
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
  if (sendAlternates && variants.length > 0) headers.push(["Alternates", alternates(variants)]);
  const vary = varyOf(variants, transparent);
  if (vary) headers.push(["Vary", vary]);
  if (transparent) headers.push(["TCN", result]);
  return headers;
}

function variantOf(dir: string, name: string, settings: DirSettings): Variant | "type-map" | null {
  const match = settings.multiviewsMatch?.value ?? "NegotiatedOnly";
  const ft = fileType(name, settings, defaultMimeTable());
  let handler: string | undefined;
  for (const e of name.split(".").slice(1)) handler = settings.addHandlers?.get(e.toLowerCase())?.value || handler;
  handler = settings.handler?.value !== undefined && settings.handler.value !== "none" ? settings.handler.value : handler;
  const script = handler !== undefined;
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
  // read_types_multi: the type-map handler, or (without a handler) exactly the type map type.
  if (handler === "type-map" || (!script && type === TYPE_MAP_TYPE)) return "type-map";
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
    description: "",
  };
}

/** Per section: whether any of its types (TypesConfig's, AddType's) is the type map type. */
const typesMapFiles = new WeakMap<DirSettings, boolean>();
let tableMapsFiles: boolean | undefined;

/**
 * handle_map_file for a file without a handler: httpd's handler is then the file's content type
 * (up to its parameters), and the type map type makes it a type map (`AddType
 * application/x-type-map .var`, ForceType, a rewrite's T=). `forcedType` is the rewrite's.
 * Sections whose types cannot give that type answer at once.
 */
export function isTypeMapByType(file: string, settings: DirSettings, forcedType: string | null): boolean {
  const force = settings.forceType?.value;
  const forced = forcedType ?? (force !== undefined && force !== "none" ? force : null);
  if (forced !== null) return handlerOfType(forced) === TYPE_MAP_TYPE;
  let may = typesMapFiles.get(settings);
  if (may === undefined) {
    tableMapsFiles ??= defaultMimeTable().hasType(TYPE_MAP_TYPE);
    may = tableMapsFiles || [...(settings.addTypes?.values() ?? [])].some((t) => handlerOfType(t.value) === TYPE_MAP_TYPE);
    typesMapFiles.set(settings, may);
  }
  return may && handlerOfType(fileType(path.basename(file), settings, defaultMimeTable()).type ?? "") === TYPE_MAP_TYPE;
}

/** ap_invoke_handler's handler from a content type: up to its parameters, trailing spaces dropped. */
function handlerOfType(type: string): string {
  const semi = type.indexOf(";");
  return (semi < 0 ? type : type.slice(0, semi)).replace(/ +$/, "").toLowerCase();
}

/** httpd reads a type map's lines, and an inline body, in buffers of this size. */
const MAX_STRING_LEN = 8192;

/** A type map as read: its variants, and the syntax error that stopped reading, if any. */
export interface ParsedTypeMap {
  readonly variants: Variant[];
  readonly problem?: TypeMapProblem;
}

/**
 * httpd's line for a type map's syntax error, which names the request's file (r->filename):
 * AH00681 and AH00682 fail the request (500); after AH00684 and AH00685 the variants read
 * before the bad record stand.
 */
export interface TypeMapProblem {
  readonly fatal: boolean;
  readonly message: (requestFile: string) => string;
}

/** apr_strtoff over a Content-Length token: decimal digits only, within a signed 64-bit offset. */
function validLength(token: string): boolean {
  return /^[0-9]+$/.test(token) && BigInt(token) <= 0x7fffffffffffffffn;
}

/** apr_tolower over a byte string: ASCII letters only. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
}

/** The error log's escaping of a header line httpd quotes: control characters as `\n`, `\xhh`. */
function escapeControls(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\v": "\\v" };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/**
 * read_type_map: records of RFC 822-style headers separated by blank lines; `#` starts a
 * comment line; a line starting with white space continues the one before (not after `Body:`);
 * `(comments)` are blanked. URI, Content-Type (with qs, level, charset), Content-Language,
 * Content-Encoding, Content-Length, Description, and `Body:TAG` (the bytes up to TAG, after
 * which reading resumes at the next line). A record becomes a variant when it has a URI (an
 * inline body's is the map's own name) and any of the content headers.
 */
export function parseTypeMap(text: Buffer, mapFile: string): ParsedTypeMap {
  const src = text.toString("latin1");
  const dir = path.dirname(mapFile);
  const variants: Variant[] = [];
  let pos = 0;
  let rec = newRecord();
  let hasContent = false;
  let problem: TypeMapProblem | undefined;

  /** apr_file_gets: a line with its newline, at most MAX_STRING_LEN - 1 bytes; null at the end. */
  const getsLine = (): string | null => {
    if (pos >= src.length) return null;
    const nl = src.indexOf("\n", pos);
    const end = Math.min(nl < 0 ? src.length : nl + 1, pos + MAX_STRING_LEN - 1);
    const line = src.slice(pos, end);
    pos = end;
    return line;
  };
  /** get_header_line: a header (continuations joined), "" for a blank line, null at the end. */
  const headerLine = (): string | null => {
    let line: string | null;
    do line = getsLine();
    while (line !== null && line.startsWith("#"));
    if (line === null) return null;
    if (line.trim() === "") return "";
    if (line.slice(0, 5).toLowerCase() === "body:") return line;
    let out = line;
    while (pos < src.length) {
      const c = src[pos]!;
      if (c === "#") {
        const nl = src.indexOf("\n", pos);
        pos = nl < 0 ? src.length : nl + 1;
      } else if (/\s/.test(c)) {
        // Leading white space: a continuation, or a blank line that ends the record.
        let p = pos;
        while (p < src.length && src[p] !== "\n" && /\s/.test(src[p]!)) p++;
        pos = p;
        if (p >= src.length || src[p] === "\n") return out;
        const nl = src.indexOf("\n", pos);
        const end = nl < 0 ? src.length : nl;
        out += src.slice(pos, end) + "\n";
        pos = nl < 0 ? src.length : nl + 1;
      } else {
        return out;
      }
    }
    return out;
  };

  for (;;) {
    const header = headerLine();
    if (header === null || header === "") {
      if (rec.name !== "" && hasContent) variants.push(finish(rec, dir));
      if (header === null) break;
      rec = newRecord();
      hasContent = false;
      continue;
    }
    const colon = header.indexOf(":");
    if (colon < 0) {
      // lcase_header_name_return_body has lower-cased it all, looking for the colon.
      const shown = escapeControls(asciiLower(header));
      return { variants, problem: { fatal: true, message: (file) => `AH00681: Syntax error in type map, no ':' in ${file} for header ${shown}` } };
    }
    const name = header.slice(0, colon).toLowerCase();
    const value = stripParenComments(header.slice(colon + 1).replace(/^\s+/, ""));
    if (value === "") {
      // httpd has lower-cased the name by then.
      const shown = escapeControls(asciiLower(header.slice(0, colon)) + header.slice(colon));
      return { variants, problem: { fatal: true, message: (file) => `AH00682: Syntax error in type map --- no header body: ${file} for ${shown}` } };
    }
    if (name === "uri") rec.name = firstToken(value);
    else if (name === "content-type") {
      const t = parseHeaderLine(value)[0];
      rec.type = t?.name ?? "";
      rec.qs = t?.q ?? 1;
      rec.level = t?.level ?? 0;
      rec.charset = t?.charset ?? "";
      hasContent = true;
    } else if (name === "content-length") {
      const token = firstToken(value);
      // httpd logs it and stops reading the map: the records before this one stand.
      if (!validLength(token)) {
        problem = { fatal: false, message: (file) => `AH00684: Parse error in type map, Content-Length: '${token}' in ${file} is invalid.` };
        break;
      }
      rec.size = Number(token);
      hasContent = true;
    } else if (name === "content-language") {
      rec.languages = value.split(/[,;]/).map((l) => l.trim().toLowerCase()).filter((l) => l !== "");
      hasContent = true;
    } else if (name === "content-encoding") {
      rec.encoding = firstToken(value);
      hasContent = true;
    } else if (name === "description") {
      // New lines become spaces; the last character (the line's newline) goes.
      rec.description = value.replace(/\n/g, " ").slice(0, -1);
    } else if (name === "body") {
      const tag = value.replace(/\s+$/, "");
      const window = src.slice(pos, pos + MAX_STRING_LEN - 1);
      const at = tag === "" ? 0 : window.indexOf(tag);
      // No end tag: as for a bad length, the records before this one stand.
      if (at < 0) {
        problem = { fatal: false, message: (file) => `AH00685: Syntax error in type map, no end tag '${tag}' found in ${file} for Body: content.` };
        break;
      }
      rec.body = Buffer.from(window.slice(0, at), "latin1");
      rec.size = rec.body.length;
      rec.name = path.basename(mapFile);
      const nl = window.indexOf("\n", at + tag.length);
      pos += nl < 0 ? window.length : nl + 1;
    }
  }
  return problem ? { variants, problem } : { variants };
}

interface MapRecord {
  name: string;
  type: string;
  qs: number;
  level: number;
  charset: string;
  languages: string[];
  encoding: string;
  size: number;
  description: string;
  body: Buffer | undefined;
}

function newRecord(): MapRecord {
  return { name: "", type: "", qs: 0, level: 0, charset: "", languages: [], encoding: "", size: -1, description: "", body: undefined };
}

/** A record as a variant; a length the map does not give is the file's (find_content_length). */
function finish(r: MapRecord, dir: string): Variant {
  let size = r.size;
  if (size < 0 && r.body === undefined) {
    try {
      size = fs.statSync(fsPath(path.join(dir, r.name))).size;
    } catch {
      size = -1;
    }
  }
  return {
    name: r.name, type: r.type, level: r.level, qs: r.qs, charset: r.charset, languages: r.languages,
    encoding: r.encoding, size, script: false, description: r.description, ...(r.body !== undefined ? { body: r.body } : {}),
  };
}

/** ap_get_token without white space: up to white space, `;` or `,`. */
function firstToken(s: string): string {
  return /^[^\s;,]*/.exec(s.replace(/^\s+/, ""))![0];
}

/** strip_paren_comments: `(...)` becomes spaces, outside quoted strings. */
function stripParenComments(s: string): string {
  let out = "";
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') {
      const close = s.indexOf('"', i + 1);
      if (close < 0) return out + s.slice(i);
      out += s.slice(i, close + 1);
      i = close + 1;
    } else if (c === "(") {
      while (i < s.length && s[i] !== ")") {
        out += " ";
        i++;
      }
      if (i < s.length) {
        out += " ";
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
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
  const first = variants[0];
  const differs = (f: (v: Variant) => string) => first !== undefined && variants.some((v) => f(v) !== f(first));
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
      let s = `{"${escapePathSegment(v.name)}" ${qString(v.qs)}`;
      if (v.type) s += ` {type ${v.type}}`;
      if (v.charset) s += ` {charset ${v.charset}}`;
      if (v.languages.length > 0) s += ` {language ${v.languages.join(",")}}`;
      if (v.encoding) s += ` {encoding ${v.encoding}}`;
      if (!v.script && v.size >= 0) s += ` {length ${v.size}}`;
      return s + "}";
    })
    .join(", ");
}

/** make_variant_list: the list the 406 and 300 pages show. */
function makeVariantList(variants: readonly Variant[]): string {
  let s = "Available variants:\n<ul>\n";
  for (const v of variants) {
    // The description is shown as the map gives it (httpd does not escape it).
    s += `<li><a href="${escapePathSegment(v.name)}">${escapeHtml(v.name)}</a> ${v.description}`;
    if (v.type) s += `, type ${v.type}`;
    if (v.languages.length > 0) s += `, language ${v.languages.join(",")}`;
    if (v.charset) s += `, charset ${v.charset}`;
    if (v.encoding) s += `, encoding ${v.encoding}`;
    s += "</li>\n";
  }
  return s + "</ul>\n";
}
