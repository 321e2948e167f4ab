/**
 * RewriteRule [CO=...]: the Set-Cookie header mod_rewrite's add_cookie builds from an expanded
 * `NAME:VALUE:DOMAIN[:lifetime[:path[:secure[:httponly[:samesite]]]]]` (`;` separates instead
 * when the spec starts with `;`).
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** `Sat, 21-Nov-2026 23:14:09 GMT`: the old Netscape form httpd writes. */
function cookieDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${pad(d.getUTCFullYear(), 4)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

const isOn = (v: string | undefined, word: string) => v !== undefined && (v.toLowerCase() === "true" || v === "1" || v.toLowerCase() === word);

/** The cookie's name and Set-Cookie value, or null when NAME, VALUE or DOMAIN is missing (httpd sets nothing then). */
export function rewriteCookie(spec: string, requestTime: number): { name: string; value: string } | null {
  let sep = ":";
  if (spec.startsWith(";")) {
    sep = ";";
    spec = spec.slice(1);
  }
  // apr_strtok: empty fields between separators are skipped.
  const [name, val, domain, expires, path, secure, httponly, samesite] = spec.split(sep).filter((t) => t !== "");
  if (name === undefined || val === undefined || domain === undefined) return null;
  let cookie = `${name}=${val}; path=${path ?? "/"}; domain=${domain}`;
  const minutes = expires === undefined ? 0 : parseInt(expires, 10) || 0;
  if (minutes) cookie += `; expires=${cookieDate(new Date(requestTime + minutes * 60_000))}`;
  if (isOn(secure, "secure")) cookie += "; secure";
  if (isOn(httponly, "httponly")) cookie += "; HttpOnly";
  if (samesite !== undefined && samesite !== "0" && samesite.toLowerCase() !== "false") cookie += `; SameSite=${samesite}`;
  return { name, value: cookie };
}
