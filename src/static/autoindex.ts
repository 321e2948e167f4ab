/**
 * `Options Indexes` without FancyIndexing: mod_autoindex's plain list, as Apache 2.4.71 sends
 * it (`text/html;charset=ISO-8859-1`, a `<ul>` with a Parent Directory link and one `<li>` per
 * entry, sorted by name in byte order, directories with a trailing `/`). Column sorting
 * (`?C=N;O=D`), IndexOptions and icons are not implemented.
 */
import * as fs from "node:fs";
import type { ResponseSink } from "../http/types";
import { escapeHtml, sendErrorPage } from "./error-page";

export interface DirectoryListingOptions {
  /** IndexIgnore shell patterns (`*` and `?`); nothing is hidden by default. */
  ignore?: readonly string[];
}

const PATH_SAFE = /[A-Za-z0-9$\-_.+!*'(),:@&=/~]/;

/** ap_escape_uri (ap_os_escape_path): percent-encode bytes outside Apache's safe set, lower-case hex. */
export function escapeUriPath(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && PATH_SAFE.test(c) ? c : "%" + byte.toString(16).padStart(2, "0");
  }
  return out;
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
export function renderDirectoryListing(uriPath: string, entries: readonly { name: string; isDir: boolean }[]): string {
  // The title shows the path without its trailing slash, except for the root.
  const title = escapeHtml(uriPath.length > 1 ? uriPath.replace(/\/+$/, "") : uriPath);
  const sorted = [...entries].sort((a, b) => byteCompare(a.name, b.name));
  let html =
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n' +
    `<html>\n <head>\n  <title>Index of ${title}</title>\n </head>\n <body>\n<h1>Index of ${title}</h1>\n<ul>`;
  if (uriPath !== "/") {
    const parent = uriPath.replace(/\/+$/, "").replace(/[^/]*$/, "") || "/";
    html += `<li><a href="${escapeHtml(escapeUriPath(parent))}"> Parent Directory</a></li>\n`;
  }
  for (const e of sorted) {
    const name = e.isDir ? e.name + "/" : e.name;
    let href = escapeUriPath(name);
    // A colon before any slash would read as a URL scheme: Apache prefixes "./".
    const colon = href.indexOf(":");
    if (colon >= 0 && (href.indexOf("/") < 0 || colon < href.indexOf("/"))) href = "./" + href;
    html += `<li><a href="${escapeHtml(href)}"> ${escapeHtml(name)}</a></li>\n`;
  }
  html += "</ul>\n</body></html>\n";
  return html;
}

/**
 * Send the listing of `dirPath`, requested as `uriPath`. GET/HEAD/POST only (others: 405).
 * `.` and `..` are never listed; unreadable directories give 403.
 */
export async function serveDirectoryListing(
  req: { method: string },
  dirPath: string,
  uriPath: string,
  sink: ResponseSink,
  opts: DirectoryListingOptions = {},
): Promise<number> {
  if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST") {
    sendErrorPage(sink, 405, { method: req.method });
    return 405;
  }
  let dirents: fs.Dirent[];
  try {
    dirents = await fs.promises.readdir(dirPath, { withFileTypes: true });
  } catch {
    sendErrorPage(sink, 403, { method: req.method });
    return 403;
  }
  const ignore = (opts.ignore ?? []).map(globToRegExp);
  const entries: { name: string; isDir: boolean }[] = [];
  for (const d of dirents) {
    if (d.name === "." || d.name === ".." || ignore.some((re) => re.test(d.name))) continue;
    let isDir = d.isDirectory();
    if (d.isSymbolicLink()) {
      try {
        isDir = (await fs.promises.stat(`${dirPath}/${d.name}`)).isDirectory();
      } catch {
        continue; // a dangling link: Apache skips what it cannot stat
      }
    }
    entries.push({ name: d.name, isDir });
  }
  if (sink.aborted) return 0;
  const body = Buffer.from(renderDirectoryListing(uriPath, entries), "utf8");
  sink.writeHead(200, "OK", [
    ["Content-Length", String(body.length)],
    ["Content-Type", "text/html;charset=ISO-8859-1"],
  ]);
  if (req.method === "HEAD") sink.end();
  else sink.end(body);
  return 200;
}
