/**
 * mod_negotiation's MultiViews for a missing file `base`: the variants are the files named
 * `base.*` in its directory whose every extension means something to mod_mime (a handler too
 * under MultiviewsMatch Handlers; anything under Any) and that have a media type. The best one
 * is chosen as httpd's is_variant_better does: Accept quality, then Accept-Language quality,
 * then Accept-Charset, then Accept-Encoding, then the smaller file, then the name. None
 * acceptable is 406 with the variant list. LanguagePriority is not implemented (ignored).
 *
 * The answer carries httpd's negotiation headers: on a GET/HEAD without path info (a
 * "transparent" negotiation) `Content-Location` (the variant), `Vary: negotiate,...` and
 * `TCN: choice` (`TCN: list` and `Alternates` on a 406); otherwise only the `Vary` of the
 * dimensions the variants differ in.
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
  | { readonly kind: "not-acceptable"; readonly headers: readonly HeaderPair[]; readonly variantList: string };

/** The type mod_negotiation gives a script variant that names none (CGI_MAGIC_TYPE). */
const CGI_MAGIC_TYPE = "application/x-httpd-cgi";

interface Variant {
  readonly name: string;
  /** The media type without parameters. */
  readonly type: string;
  readonly charset: string;
  readonly languages: readonly string[];
  readonly encoding: string;
  readonly size: number;
  readonly script: boolean;
}

interface AcceptItem {
  readonly range: string;
  readonly q: number;
}

interface AcceptList {
  readonly items: AcceptItem[];
  /** Some item named a q value (httpd's accept_q): no fiddling with wildcards then. */
  readonly explicitQ: boolean;
}

export function negotiate(
  missing: string,
  settings: DirSettings,
  req: { readonly accept?: string; readonly acceptLanguage?: string; readonly acceptCharset?: string; readonly acceptEncoding?: string; readonly transparent: boolean },
): Negotiation {
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

  const accept = parseAccept(req.accept ?? "*/*");
  // maybe_add_default_accepts: scripts rank below static files unless asked for by type.
  accept.items.push({ range: CGI_MAGIC_TYPE, q: 0.001 });
  const langs = req.acceptLanguage !== undefined ? parseAccept(req.acceptLanguage).items : null;
  const charsets = req.acceptCharset !== undefined ? parseAccept(req.acceptCharset).items : null;
  const encodings = req.acceptEncoding !== undefined ? parseAccept(req.acceptEncoding).items : null;
  const anyLanguage = variants.some((v) => v.languages.length > 0);

  let best: { v: Variant; q: number; lang: number; charset: number; enc: number } | null = null;
  for (const v of variants) {
    const q = typeQuality(accept, v.type);
    const lang = v.languages.length === 0 ? (anyLanguage ? 0.0001 : 1) : languageQuality(langs, v.languages);
    const charset = charsetQuality(charsets, v);
    const enc = encodingQuality(encodings, v.encoding);
    if (q === 0 || lang === 0 || charset === 0 || enc === 0) continue;
    const cand = { v, q, lang, charset, enc };
    if (!best || isBetter(cand, best)) best = cand;
  }

  const vary = varyOf(variants, req.transparent);
  if (!best) {
    const headers: HeaderPair[] = [["Alternates", alternates(variants)]];
    if (vary) headers.push(["Vary", vary]);
    if (req.transparent) headers.push(["TCN", "list"]);
    return { kind: "not-acceptable", headers, variantList: variantList(variants) };
  }
  const headers: HeaderPair[] = [];
  if (req.transparent) headers.push(["Content-Location", escapePathSegment(best.v.name)]);
  if (vary) headers.push(["Vary", vary]);
  if (req.transparent) headers.push(["TCN", "choice"]);
  return { kind: "found", name: best.v.name, headers, dirStat };
}

type Scored = { v: Variant; q: number; lang: number; charset: number; enc: number };

/** is_variant_better without LanguagePriority and type levels. */
function isBetter(a: Scored, b: Scored): boolean {
  if (a.q !== b.q) return a.q > b.q;
  if (a.lang !== b.lang) return a.lang > b.lang;
  if (a.charset !== b.charset) return a.charset > b.charset;
  // Equal charset quality: a variant naming a charset other than iso-8859-1 wins over one that does not.
  const named = (v: Variant) => v.charset !== "" && v.charset !== "iso-8859-1";
  if (named(a.v) && !named(b.v)) return true;
  if (a.enc !== b.enc) return a.enc > b.enc;
  return a.v.size < b.v.size;
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
  const [mediaType, ...params] = type.split(";");
  const charsetParam = params.map((p) => p.trim()).find((p) => /^charset=/i.test(p));
  return {
    name,
    type: mediaType!.trim().toLowerCase(),
    charset: charsetParam ? charsetParam.slice(8).replace(/^"|"$/g, "").toLowerCase() : "",
    languages: ft.languages,
    encoding: ft.encoding ?? "",
    size,
    script,
  };
}

function parseAccept(header: string): AcceptList {
  const items: AcceptItem[] = [];
  let explicitQ = false;
  for (const part of header.split(",")) {
    const [range, ...params] = part.split(";").map((s) => s.trim());
    if (!range) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) {
        q = Math.min(1, Number(m[1]) || 0);
        explicitQ = true;
      }
    }
    items.push({ range: range.toLowerCase(), q });
  }
  return { items, explicitQ };
}

/** set_accept_quality: the most specific matching range; without any q, wildcards are 0.01/0.02. */
function typeQuality(accept: AcceptList, type: string): number {
  const major = type.split("/")[0] + "/*";
  let q = 0;
  let rank = 0;
  for (const a of accept.items) {
    const r = a.range === type ? 3 : a.range === major ? 2 : a.range === "*/*" || a.range === "*" ? 1 : 0;
    if (r <= rank) continue;
    rank = r;
    q = accept.explicitQ || r === 3 ? a.q : r === 1 ? 0.01 : 0.02;
  }
  return q;
}

/**
 * set_language_quality: the longest matching range (exact, or a prefix up to `-`) of each tag,
 * the best q over the tags; `*` for tags nothing else matched; 0.001 when only a range's primary
 * tag matches (`en-us` asked, `en` offered); 0 otherwise. No Accept-Language: 1.
 */
function languageQuality(accept: AcceptItem[] | null, languages: readonly string[]): number {
  if (accept === null) return 1;
  let best: AcceptItem | null = null;
  let star: AcceptItem | null = null;
  let fiddle = 0;
  let matchOnStar = false;
  for (const lang of languages) {
    let thisTag: AcceptItem | null = null;
    for (const a of accept) {
      if (a.range === "*") {
        star ??= a;
        continue;
      }
      if (lang.startsWith(a.range) && (lang.length === a.range.length || lang[a.range.length] === "-")) {
        if (!thisTag || a.range.length > thisTag.range.length) thisTag = a;
      }
      const dash = a.range.indexOf("-");
      if (!thisTag && dash > 0 && lang.startsWith(a.range.slice(0, dash))) fiddle = 0.001;
    }
    if (!best || (thisTag && thisTag.q > best.q)) best = thisTag;
    if (!thisTag && star) matchOnStar = true;
  }
  if (matchOnStar && star && (!best || star.q > best.q)) best = star;
  return best ? best.q : fiddle;
}

/** set_charset_quality: text without a charset counts as iso-8859-1, which is acceptable unless refused. */
function charsetQuality(accept: AcceptItem[] | null, v: Variant): number {
  if (accept === null) return 1;
  let charset = v.charset;
  if (charset === "") {
    if (!v.type.startsWith("text/")) return 1;
    charset = "iso-8859-1";
  }
  const hit = accept.find((a) => a.range === charset) ?? accept.find((a) => a.range === "*");
  if (hit) return hit.q;
  return charset === "iso-8859-1" ? 1 : 0;
}

/** set_encoding_quality: no Accept-Encoding makes an encoded variant half as good. */
function encodingQuality(accept: AcceptItem[] | null, encoding: string): number {
  const identity = encoding === "" || encoding === "7bit" || encoding === "8bit" || encoding === "binary";
  if (accept === null) return identity ? 1 : 0.5;
  const enc = (identity ? "identity" : encoding).replace(/^x-/, "");
  let star: AcceptItem | undefined;
  for (const a of accept) {
    if (a.range.replace(/^x-/, "") === enc) return a.q;
    if (a.range === "*") star = a;
  }
  if (star) return star.q;
  return identity ? 0.0001 : 0;
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

/** The Alternates header (RFC 2295), as set_neg_headers writes it; scripts get no length. */
function alternates(variants: readonly Variant[]): string {
  return variants
    .map((v) => {
      let s = `{"${escapePathSegment(v.name)}" 1 {type ${v.type}}`;
      if (v.charset) s += ` {charset ${v.charset}}`;
      if (v.languages.length > 0) s += ` {language ${v.languages.join(",")}}`;
      if (v.encoding) s += ` {encoding ${v.encoding}}`;
      if (!v.script) s += ` {length ${v.size}}`;
      return s + "}";
    })
    .join(", ");
}

/** make_variant_list: the list the 406 page shows. */
function variantList(variants: readonly Variant[]): string {
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
