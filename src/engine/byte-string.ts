/**
 * The engine works on byte strings: one char per octet (U+0000..U+00FF), which is what
 * normalizePath returns and what WSGI's environ holds (PEP 3333's latin-1 strings). Text
 * from the configuration is encoded to that form once, at compile time.
 */

/** Configuration text -> its UTF-8 octets as a byte string (ASCII is returned as is). */
export function toByteString(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

/** True when every char of `s` is an octet. */
export function isByteString(s: string): boolean {
  return /^[\x00-\xff]*$/.test(s);
}
