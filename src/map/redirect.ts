/**
 * mod_alias's Redirect, RedirectMatch, RedirectPermanent and RedirectTemp: checked in
 * translate_name before Alias and WSGIScriptAlias (server and virtual host level), and in
 * fixups for the ones set inside a section.
 */
import type { RedirectDirective } from "../config/model";
import { escapeUri } from "./uri-escape";

export interface RedirectHit {
  readonly status: number;
  /** The absolute URL for a 3xx; null for 410 and other non-redirect statuses. */
  readonly location: string | null;
}

/**
 * The first redirect that matches the decoded URL-path `uri`. `absolute` turns a local
 * path (`/new`) into a full URL as ap_construct_url does. The request's query is appended
 * when the target has none of its own.
 */
export function matchRedirect(
  redirects: readonly RedirectDirective[],
  uri: string,
  query: string | null,
  absolute: (localPath: string) => string,
): RedirectHit | null {
  for (const r of redirects) {
    let target: string | undefined;
    if (r.regex) {
      const m = r.compiled!.regexp.exec(uri);
      if (!m) continue;
      if (r.urlBytes !== undefined) target = escapePathKeepQuery(substitute(r.urlBytes, m));
    } else {
      const len = prefixMatch(r.prefixBytes, uri);
      if (len < 0) continue;
      if (r.urlBytes !== undefined) target = r.urlBytes + escapeUri(uri.slice(len));
    }
    if (r.status < 300 || r.status >= 400 || target === undefined) return { status: r.status, location: null };
    if (target.startsWith("/")) target = absolute(target);
    if (query !== null && !target.includes("?")) target += "?" + query;
    return { status: r.status, location: target };
  }
  return null;
}

/**
 * mod_alias's alias_matches: the prefix must end at a segment boundary of the URL (a prefix
 * ending in `/` needs that slash). Returns the length of `uri` consumed, or -1.
 */
function prefixMatch(prefix: string, uri: string): number {
  if (!uri.startsWith(prefix)) return -1;
  if (prefix.endsWith("/") || uri.length === prefix.length || uri[prefix.length] === "/") return prefix.length;
  return -1;
}

/** ap_pregsub: `$0`..`$9` and `&` are the match's groups; `\$`, `\&` are literal. */
function substitute(template: string, m: RegExpExecArray): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === "\\" && (template[i + 1] === "$" || template[i + 1] === "&")) {
      out += template[++i];
    } else if (c === "$" && /[0-9]/.test(template[i + 1] ?? "")) {
      out += m[Number(template[++i])] ?? "";
    } else if (c === "&") {
      out += m[0];
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * RedirectMatch escapes the path of the substituted URL (ap_escape_uri) but leaves its query and
 * fragment, as mod_alias does after apr_uri_parse.
 */
export function escapePathKeepQuery(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  const head = scheme ? scheme[0] : "";
  const rest = url.slice(head.length);
  const q = rest.search(/[?#]/);
  const pathPart = q < 0 ? rest : rest.slice(0, q);
  return head + escapeUri(pathPart) + (q < 0 ? "" : rest.slice(q));
}
