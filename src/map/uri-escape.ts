/**
 * Apache's URL-path escaping (server/util.c, with the tables of server/gen_test_char.c as of
 * 2.4.71): what Location headers, mod_alias and mod_rewrite redirects, mod_dir's trailing-slash
 * redirect and mod_autoindex's links are built with. Checked against Apache 2.4.71: hex digits
 * are lower case (`%c3%a9`), `;` is left alone in a path, `?`, `#` and `%` are escaped.
 *
 * Apache escapes bytes. The input is a byte string (one char per octet, as the engine's decoded
 * URL-paths are, see engine/byte-string.ts); text from the configuration or the file system goes
 * through toByteString first. A char above U+00FF cannot be an octet: it is escaped as its UTF-8
 * bytes rather than dropped.
 */

const HEX = "0123456789abcdef";

/** Flags per octet, like Apache's test_char_table: set = must be escaped. */
const ESCAPE_PATH_SEGMENT = 1;
const OS_ESCAPE_PATH = 2;

const TABLE = (() => {
  const t = new Uint8Array(256);
  const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c);
    if (!isAlnum(c) && !"$-_.+!*'(),:@&=~".includes(ch)) t[c]! |= ESCAPE_PATH_SEGMENT;
    if (!isAlnum(c) && !"$-_.+!*'(),:;@&=/~".includes(ch)) t[c]! |= OS_ESCAPE_PATH;
  }
  return t;
})();

function pct(b: number): string {
  return "%" + HEX[b >> 4] + HEX[b & 15];
}

function escapeWith(s: string, flag: number): string {
  let out = "";
  let start = 0; // the run of chars that need no escaping, copied at once
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 256 && !(TABLE[c]! & flag)) continue;
    out += s.slice(start, i);
    if (c < 256) {
      out += pct(c);
    } else {
      const cp = s.codePointAt(i)!;
      for (const b of Buffer.from(String.fromCodePoint(cp), "utf8")) out += pct(b);
      if (cp > 0xffff) i++;
    }
    start = i + 1;
  }
  return start === 0 ? s : out + s.slice(start);
}

/** ap_escape_uri: ap_os_escape_path with partial=1 (no `./` prefix). */
export function escapeUri(path: string): string {
  return escapeWith(path, OS_ESCAPE_PATH);
}

/**
 * ap_os_escape_path: escape a URL-path. Unless `partial`, a colon before the first slash would
 * read as a URL scheme in a relative reference, so `./` is put in front (mod_autoindex's links).
 */
export function osEscapePath(path: string, partial: boolean): string {
  const escaped = escapeWith(path, OS_ESCAPE_PATH);
  if (partial) return escaped;
  const colon = path.indexOf(":");
  const slash = path.indexOf("/");
  return colon >= 0 && (slash < 0 || colon < slash) ? "./" + escaped : escaped;
}

/** ap_escape_path_segment: as ap_escape_uri, but `/` and `;` are escaped too. */
export function escapePathSegment(segment: string): string {
  return escapeWith(segment, ESCAPE_PATH_SEGMENT);
}
