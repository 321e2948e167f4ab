/**
 * The engine works on byte strings: one char per octet (U+0000..U+00FF), which is what
 * normalizePath returns and what WSGI's environ holds (PEP 3333's latin-1 strings). Text
 * from the configuration is encoded to that form once, at compile time.
 *
 * So are the paths the map phase produces (the document root, alias targets and the URL-path
 * joined), as Apache's are bytes: a file named `café.txt` on a UTF-8 file system is the byte
 * string `cafÃ©.txt` there. `fsPath` turns one back into what `fs` takes, `textOf` into text.
 */

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** Configuration text -> its UTF-8 octets as a byte string (ASCII is returned as is). */
export function toByteString(text: string): string {
  return ASCII.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

/** A byte-string path as `fs` takes it: ASCII as is, anything else as its octets (exact). */
export function fsPath(p: string): string | Buffer {
  return ASCII.test(p) ? p : Buffer.from(p, "latin1");
}

/**
 * A byte string as text: its octets read as UTF-8 (ASCII is returned as is). For what needs a
 * path as text, such as a module's filename, and for messages: written out as UTF-8, the text
 * gives back the octets (unless they were not UTF-8, which come out as U+FFFD).
 */
export function textOf(p: string): string {
  return ASCII.test(p) ? p : Buffer.from(p, "latin1").toString("utf8");
}

/** True when every char of `s` is an octet. */
export function isByteString(s: string): boolean {
  return /^[\x00-\xff]*$/.test(s);
}
