/**
 * mod_mime's find_ct for a file name: every extension after the first dot counts, in order,
 * case-insensitively. Each may give a media type (TypesConfig, then AddType, the last extension
 * with one wins), a language (AddLanguage: all collect, sent joined by `,`), an encoding
 * (AddEncoding: all collect, joined by `, `) and a charset (AddCharset: the last wins), which
 * then replaces or joins the type's `charset` parameter. A charset with no type is dropped.
 * ForceType (core's fixup, after mod_mime) replaces the whole type, charset included.
 */
import type { DirSettings } from "../config/model";
import type { MimeTable } from "./mime";

export interface FileType {
  /** Content-Type as httpd sends it, or undefined when no extension has a type. */
  readonly type: string | undefined;
  /** Content-Encoding, or undefined. */
  readonly encoding: string | undefined;
  /** Content-Language tags, in the name's order. */
  readonly languages: readonly string[];
  /** Extensions that meant nothing to mod_mime (MultiViews' exception list). */
  readonly unknown: readonly string[];
}

export function fileType(basename: string, settings: DirSettings | null, mime: MimeTable): FileType {
  const exts = basename.split(".").slice(1);
  let type: string | undefined;
  let encoding: string | undefined;
  let charset: string | undefined;
  const languages: string[] = [];
  const unknown: string[] = [];
  for (const e of exts) {
    const ext = e.toLowerCase();
    let known = false;
    const base = mime.extensionType(ext);
    // RemoveType leaves "": the TypesConfig type applies again, as in mod_mime.
    const added = settings?.addTypes?.get(ext)?.value || undefined;
    if (base || added) {
      type = added ?? base;
      known = true;
    }
    const lang = settings?.addLanguages?.get(ext)?.value;
    if (lang) {
      languages.push(lang);
      known = true;
    }
    const enc = settings?.addEncodings?.get(ext)?.value;
    if (enc) {
      encoding = encoding === undefined ? enc : `${encoding}, ${enc}`;
      known = true;
    }
    const cs = settings?.addCharsets?.get(ext)?.value;
    if (cs) charset = cs;
    if (!known && !cs) unknown.push(e);
  }
  // DefaultLanguage: mod_mime's language for a name no extension gave one.
  const defaultLanguage = settings?.defaultLanguage?.value;
  if (languages.length === 0 && defaultLanguage !== undefined) languages.push(defaultLanguage);
  if (type !== undefined && charset !== undefined) type = withCharsetParam(type, charset);
  return { type, encoding, languages, unknown };
}

/** The type rebuilt as mod_mime does: `type/sub`, its other parameters, `charset` replaced or added. */
function withCharsetParam(type: string, charset: string): string {
  const [base, ...params] = type.split(";");
  let out = base!.trim();
  let replaced = false;
  for (const p of params) {
    const eq = p.indexOf("=");
    if (eq < 0) continue;
    const attr = p.slice(0, eq).trim().toLowerCase();
    const value = p.slice(eq + 1).trim();
    if (attr === "charset") {
      if (!replaced) out += `; charset=${charset}`;
      replaced = true;
    } else {
      out += `; ${attr}=${value}`;
    }
  }
  return replaced ? out : `${out}; charset=${charset}`;
}
