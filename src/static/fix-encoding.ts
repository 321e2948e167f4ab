/**
 * mod_negotiation's fix_encoding, a fixup for every response with a Content-Encoding: the
 * client's own spelling of the encoding wins over the configured one (AddEncoding x-gzip, a
 * client asking for `gzip` gets `Content-Encoding: gzip`): the plain token if Accept-Encoding
 * lists it, else its (last) `x-` token there, else the configured name.
 */
export function fixEncoding(encoding: string, acceptEncoding: string | undefined): string {
  if (acceptEncoding === undefined) return encoding;
  const enc = encoding.startsWith("x-") ? encoding.slice(2) : encoding;
  let xEnc: string | undefined;
  for (const item of acceptEncoding.split(",")) {
    const name = item.split(";")[0]!.trim().toLowerCase();
    if (name === enc) return name;
    if (name.startsWith("x-") && name.slice(2) === enc) xEnc = name;
  }
  return xEnc ?? encoding;
}
