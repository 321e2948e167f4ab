/**
 * mod_negotiation's MultiViews for a missing file `base`: the variants are the files named
 * `base.*` in its directory whose every extension means something (a media type, a language,
 * an encoding or charset; a handler too under MultiviewsMatch Handlers; anything under Any).
 * The best variant is the one with the highest Accept quality times Accept-Language quality;
 * ties go to the smaller file, then the name. No acceptable variant is 406, as in httpd.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DirSettings } from "../config/model";
import { defaultMimeTable } from "../static/mime";
import { fsPath } from "../engine/byte-string";

export type Negotiation = { readonly kind: "found"; readonly name: string } | { readonly kind: "none" } | { readonly kind: "not-acceptable" };

interface Variant {
  readonly name: string;
  readonly type: string | null;
  readonly language: string | null;
  readonly size: number;
}

interface AcceptItem {
  readonly range: string;
  readonly q: number;
  readonly explicitQ: boolean;
}

export function negotiate(missing: string, settings: DirSettings, accept: string | undefined, acceptLanguage: string | undefined): Negotiation {
  const dir = path.dirname(missing);
  const base = path.basename(missing);
  let names: string[];
  try {
    // latin1: the names as byte strings, like the path they are compared with.
    names = fs.readdirSync(fsPath(dir), { encoding: "latin1" });
  } catch {
    return { kind: "none" };
  }
  const variants: Variant[] = [];
  for (const n of names) {
    if (!n.startsWith(base + ".")) continue;
    const v = variantOf(dir, n, n.slice(base.length + 1).split("."), settings);
    if (v) variants.push(v);
  }
  if (variants.length === 0) return { kind: "none" };
  const types = accept !== undefined ? parseAccept(accept, true) : null;
  const langs = acceptLanguage !== undefined ? parseAccept(acceptLanguage, false) : null;
  let best: { v: Variant; q: number } | null = null;
  for (const v of variants) {
    const q = typeQuality(types, v.type) * languageQuality(langs, v.language);
    if (q <= 0) continue;
    if (!best || q > best.q || (q === best.q && (v.size < best.v.size || (v.size === best.v.size && v.name < best.v.name)))) best = { v, q };
  }
  return best ? { kind: "found", name: best.v.name } : { kind: "not-acceptable" };
}

function variantOf(dir: string, name: string, exts: string[], settings: DirSettings): Variant | null {
  const match = settings.multiviewsMatch?.value ?? "NegotiatedOnly";
  const mime = defaultMimeTable();
  let type: string | null = null;
  let language: string | null = null;
  for (const e of exts) {
    const ext = e.toLowerCase();
    const added = settings.addTypes?.get(ext)?.value;
    const t = added !== undefined ? added || undefined : mime.extensionType(ext);
    const lang = settings.addLanguages?.get(ext)?.value;
    const known = t !== undefined || lang !== undefined || settings.addEncodings?.has(ext) || settings.addCharsets?.has(ext);
    if (t !== undefined) type = t;
    if (lang !== undefined) language = lang;
    if (known || match === "Any") continue;
    if ((match === "Handlers" || match === "Filters Handlers") && settings.addHandlers?.get(ext)?.value) continue;
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
  return { name, type, language, size };
}

function parseAccept(header: string, isType: boolean): AcceptItem[] {
  const items: AcceptItem[] = [];
  for (const part of header.split(",")) {
    const [range, ...params] = part.split(";").map((s) => s.trim());
    if (!range) continue;
    let q = 1;
    let explicitQ = false;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) {
        q = Math.min(1, Number(m[1]) || 0);
        explicitQ = true;
      }
    }
    items.push({ range: range.toLowerCase(), q, explicitQ });
  }
  // httpd's "fiddle factor": without any explicit q, wildcards rank below what is named.
  if (isType && !items.some((i) => i.explicitQ)) {
    return items.map((i) => (i.range === "*/*" ? { ...i, q: 0.01 } : i.range.endsWith("/*") ? { ...i, q: 0.02 } : i));
  }
  return items;
}

/** The quality of the most specific matching media range; a variant without a type is acceptable. */
function typeQuality(accept: AcceptItem[] | null, type: string | null): number {
  if (accept === null || type === null) return 1;
  const t = type.split(";")[0]!.trim().toLowerCase();
  const major = t.split("/")[0] + "/*";
  let q = 0;
  let rank = -1;
  for (const a of accept) {
    const r = a.range === t ? 2 : a.range === major ? 1 : a.range === "*/*" ? 0 : -1;
    if (r > rank) {
      rank = r;
      q = a.q;
    }
  }
  return q;
}

/** Accept-Language: an exact tag or a prefix (`en` for `en-gb`); others rank last but stay acceptable. */
function languageQuality(accept: AcceptItem[] | null, language: string | null): number {
  if (accept === null) return 1;
  const star = accept.find((a) => a.range === "*");
  if (language === null) return star ? star.q : 0.001;
  let best: AcceptItem | undefined;
  for (const a of accept) {
    if (a.range === language || language.startsWith(a.range + "-")) {
      if (!best || a.range.length > best.range.length) best = a;
    }
  }
  if (best) return best.q;
  return star ? star.q : 0.001;
}
