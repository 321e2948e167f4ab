/**
 * `Options Indexes` without FancyIndexing: mod_autoindex's plain list, as Apache 2.4.71 sends
 * it (`text/html;charset=ISO-8859-1`, a `<ul>` with a Parent Directory link and one `<li>` per
 * entry, sorted by name in byte order, directories with a trailing `/`). The query's
 * `C=N|M|S|D` and `O=A|D` pick the sort column and order as mod_autoindex does (ties fall back
 * to the name; the order reverses the whole comparison). The list ends with the ServerSignature
 * footer, as mod_autoindex's emit_tail. IndexOptions and icons are not implemented.
 */
import * as fs from "node:fs";
import type { ResponseSink } from "../http/types";
import { escapeHtml, sendErrorPage, type ErrorPageContext } from "./error-page";
import { staticAllow, type StaticPage } from "./serve-file";
import { fsPath, toByteString } from "../engine/byte-string";
import { escapeUri, osEscapePath } from "../map/uri-escape";

export interface DirectoryListingOptions {
  /** IndexIgnore shell patterns (`*` and `?`); nothing is hidden by default. */
  ignore?: readonly string[];
  /** The request's footer, ServerAdmin and TraceEnable (for the listing and its error pages). */
  page?: () => StaticPage;
}

/**
 * The listing's footer: httpd's ap_psignature without the `<hr>\n` prefix error pages give it
 * (StaticPage.signature has that prefix).
 */
export function listingSignature(errorPageSignature: string): string {
  return errorPageSignature.startsWith("<hr>\n") ? errorPageSignature.slice(5) : errorPageSignature;
}

function globToRegExp(glob: string): RegExp {
  const src = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${src}$`);
}

/** Byte-order comparison of names (strcmp), which is how Apache sorts by default. */
function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** The listing page for `uriPath` (the request path of the directory, e.g. `/idx/`). */
export interface ListingEntry {
  /** The file name as a byte string (readdir with latin1), like the URL-path it is listed under. */
  name: string;
  isDir: boolean;
  mtimeMs?: number;
  size?: number;
}

export interface ListingOrder {
  /** N(ame), M(odified), S(ize), D(escription). */
  column: "N" | "M" | "S" | "D";
  ascending: boolean;
}

/** mod_autoindex's `C=` and `O=` query arguments (separated by `;` or `&`); unknown ones are ignored. */
export function listingOrder(query: string | null): ListingOrder {
  const order: ListingOrder = { column: "N", ascending: true };
  for (const arg of (query ?? "").split(/[;&]/)) {
    const m = /^([CO])=(.)$/.exec(arg);
    if (!m) continue;
    if (m[1] === "C" && "NMSD".includes(m[2]!)) order.column = m[2] as ListingOrder["column"];
    if (m[1] === "O" && (m[2] === "A" || m[2] === "D")) order.ascending = m[2] === "A";
  }
  return order;
}

function compareEntries(a: ListingEntry, b: ListingEntry, order: ListingOrder): number {
  let r = 0;
  if (order.column === "M") r = Math.sign((a.mtimeMs ?? 0) - (b.mtimeMs ?? 0));
  else if (order.column === "S") r = Math.sign((a.isDir ? -1 : (a.size ?? 0)) - (b.isDir ? -1 : (b.size ?? 0)));
  if (r === 0) r = byteCompare(a.name, b.name);
  return order.ascending ? r : -r;
}

/** `signature`: ServerSignature's footer (`<address>...</address>\n`), "" when Off. */
export function renderDirectoryListing(uriPath: string, entries: readonly ListingEntry[], order: ListingOrder = { column: "N", ascending: true }, signature = ""): string {
  // The title shows the path without its trailing slash, except for the root.
  const title = escapeHtml(uriPath.length > 1 ? uriPath.replace(/\/+$/, "") : uriPath);
  const sorted = [...entries].sort((a, b) => compareEntries(a, b, order));
  let html =
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n' +
    `<html>\n <head>\n  <title>Index of ${title}</title>\n </head>\n <body>\n<h1>Index of ${title}</h1>\n<ul>`;
  if (uriPath !== "/") {
    const parent = uriPath.replace(/\/+$/, "").replace(/[^/]*$/, "") || "/";
    // uriPath is the request's decoded URL-path, a byte string already.
    html += `<li><a href="${escapeHtml(escapeUri(parent))}"> Parent Directory</a></li>\n`;
  }
  for (const e of sorted) {
    const name = e.isDir ? e.name + "/" : e.name;
    // ap_os_escape_path(name, 0): a colon before any slash gets "./" so it is not a scheme.
    const href = osEscapePath(name, false);
    html += `<li><a href="${escapeHtml(href)}"> ${escapeHtml(name)}</a></li>\n`;
  }
  html += "</ul>\n" + signature + "</body></html>\n";
  return html;
}

/**
 * Send the listing of `dirPath`, requested as `uriPath`, for GET and HEAD (the mapper hands
 * other methods to the default handler, as mod_autoindex declines them; here they get 405).
 * `.` and `..` are never listed; unreadable directories give 403.
 */
export async function serveDirectoryListing(
  req: { method: string; target?: string },
  dirPath: string,
  uriPath: string,
  sink: ResponseSink,
  opts: DirectoryListingOptions = {},
): Promise<number> {
  const page = opts.page?.();
  const errorContext: ErrorPageContext = page ? { method: req.method, signature: page.signature, serverAdmin: page.serverAdmin } : { method: req.method };
  if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST") {
    sendErrorPage(sink, 405, errorContext, [["Allow", staticAllow(page?.traceEnabled ?? true)]]);
    return 405;
  }
  let dirents: fs.Dirent[];
  try {
    // Names as byte strings, like the URL-path and the directory: the page is sent as latin-1,
    // so a name's bytes reach the client as they are on disk, as with httpd.
    dirents = await fs.promises.readdir(fsPath(dirPath), { withFileTypes: true, encoding: "latin1" });
  } catch {
    sendErrorPage(sink, 403, errorContext);
    return 403;
  }
  const ignore = (opts.ignore ?? []).map((glob) => globToRegExp(toByteString(glob)));
  const q = req.target?.indexOf("?") ?? -1;
  const order = listingOrder(q >= 0 ? req.target!.slice(q + 1) : null);
  const needStat = order.column === "M" || order.column === "S";
  const entries: ListingEntry[] = [];
  for (const d of dirents) {
    if (d.name === "." || d.name === ".." || ignore.some((re) => re.test(d.name))) continue;
    let isDir = d.isDirectory();
    if (d.isSymbolicLink()) {
      try {
        isDir = (await fs.promises.stat(fsPath(`${dirPath}/${d.name}`))).isDirectory();
      } catch {
        continue; // a dangling link: Apache skips what it cannot stat
      }
    }
    const e: ListingEntry = { name: d.name, isDir };
    if (needStat) {
      try {
        const st = await fs.promises.stat(fsPath(`${dirPath}/${d.name}`));
        e.mtimeMs = st.mtimeMs;
        e.size = st.size;
      } catch {
        continue;
      }
    }
    entries.push(e);
  }
  if (sink.aborted) return 0;
  const body = Buffer.from(renderDirectoryListing(uriPath, entries, order, listingSignature(page?.signature ?? "")), "latin1");
  // HEAD: no length, as from httpd, whose listing is never made for HEAD.
  sink.writeHead(200, "OK", [
    ...(req.method === "HEAD" ? [] : [["Content-Length", String(body.length)] as const]),
    ["Content-Type", "text/html;charset=ISO-8859-1"],
  ]);
  if (req.method === "HEAD") sink.end();
  else sink.end(body);
  return 200;
}
