/**
 * mod_mime's type lookup: TypesConfig (/etc/mime.types) plus AddType, matched on every
 * extension of the file name as Apache does (`a.html.en` looks at `html` and `en`, the last
 * one with a type wins; the part before the first dot never counts). No type -> undefined:
 * Apache 2.4 has no DefaultType, so the response carries no Content-Type.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const DEFAULT_TYPES_CONFIG = "/etc/mime.types";

/** Used when the TypesConfig file cannot be read: the common types as Debian's mime.types has them. */
const BUILTIN: Readonly<Record<string, string>> = {
  html: "text/html", htm: "text/html", shtml: "text/html", css: "text/css",
  js: "text/javascript", mjs: "text/javascript", json: "application/json", map: "application/json",
  txt: "text/plain", text: "text/plain", csv: "text/csv", xml: "application/xml",
  xsl: "application/xslt+xml", md: "text/markdown", ics: "text/calendar",
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", jpe: "image/jpeg", gif: "image/gif",
  svg: "image/svg+xml", svgz: "image/svg+xml", ico: "image/vnd.microsoft.icon", webp: "image/webp",
  avif: "image/avif", bmp: "image/bmp", tif: "image/tiff", tiff: "image/tiff",
  woff: "font/woff", woff2: "font/woff2", ttf: "font/ttf", otf: "font/otf",
  mp3: "audio/mpeg", ogg: "audio/ogg", oga: "audio/ogg", wav: "audio/x-wav", flac: "audio/flac",
  mp4: "video/mp4", webm: "video/webm", ogv: "video/ogg", mpeg: "video/mpeg", mov: "video/quicktime",
  pdf: "application/pdf", zip: "application/zip", gz: "application/gzip", tgz: "application/gzip",
  tar: "application/x-tar", bz2: "application/x-bzip2", xz: "application/x-xz",
  "7z": "application/x-7z-compressed", wasm: "application/wasm", rtf: "application/rtf",
  doc: "application/msword", xls: "application/vnd.ms-excel",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  epub: "application/epub+zip", swf: "application/x-shockwave-flash",
  rss: "application/rss+xml", atom: "application/atom+xml", xhtml: "application/xhtml+xml",
  webmanifest: "application/manifest+json", bin: "application/octet-stream",
};

/** Parse mime.types text: `type ext ext ...` per line, `#` comments. Later lines win, as in mod_mime. */
export function parseMimeTypes(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const [type, ...exts] = line.split(/\s+/);
    if (!type) continue;
    for (const ext of exts) map.set(ext.toLowerCase(), type);
  }
  return map;
}

export interface MimeTableOptions {
  /** TypesConfig path; null to skip reading any file (built-in table only). */
  typesConfig?: string | null;
  /** AddType: extension (with or without the leading dot) -> media type. Overrides TypesConfig. */
  addTypes?: Readonly<Record<string, string>>;
}

export class MimeTable {
  private readonly types: Map<string, string>;

  constructor(types: Map<string, string>) {
    this.types = types;
  }

  /** Build the table: TypesConfig (or the built-in table when unreadable), then AddType on top. */
  static load(opts: MimeTableOptions = {}): MimeTable {
    const file = opts.typesConfig === undefined ? DEFAULT_TYPES_CONFIG : opts.typesConfig;
    let types: Map<string, string> | undefined;
    if (file !== null) {
      try {
        types = parseMimeTypes(fs.readFileSync(file, "utf8"));
      } catch {
        types = undefined;
      }
    }
    if (!types) types = new Map(Object.entries(BUILTIN));
    const table = new MimeTable(types);
    if (opts.addTypes) table.addTypes(opts.addTypes);
    return table;
  }

  /** A copy of this table with AddType entries applied (per-directory configuration). */
  withAddTypes(addTypes: Readonly<Record<string, string>>): MimeTable {
    const t = new MimeTable(new Map(this.types));
    t.addTypes(addTypes);
    return t;
  }

  private addTypes(addTypes: Readonly<Record<string, string>>): void {
    for (const [ext, type] of Object.entries(addTypes)) this.types.set(ext.replace(/^\./, "").toLowerCase(), type);
  }

  /** Whether some extension has `type` (its media type, parameters aside, any case). */
  hasType(type: string): boolean {
    const want = type.toLowerCase();
    for (const t of this.types.values()) if (t.split(";")[0]!.trim().toLowerCase() === want) return true;
    return false;
  }

  /** The media type of one extension (no dot, any case), or undefined. */
  extensionType(ext: string): string | undefined {
    return this.types.get(ext.toLowerCase());
  }

  /** The media type for a file name or path, or undefined when no extension has one. */
  lookup(filePath: string): string | undefined {
    const parts = path.basename(filePath).split(".");
    let found: string | undefined;
    // parts[0] is the name before the first dot: mod_mime never treats it as an extension.
    for (let i = 1; i < parts.length; i++) {
      const t = this.types.get(parts[i]!.toLowerCase());
      if (t !== undefined) found = t;
    }
    return found;
  }
}

let shared: MimeTable | undefined;

/** The process-wide table from /etc/mime.types (loaded once, on first use). */
export function defaultMimeTable(): MimeTable {
  if (!shared) shared = MimeTable.load();
  return shared;
}
