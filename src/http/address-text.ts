/**
 * Client addresses as Apache writes them into REMOTE_ADDR (APR's apr_sockaddr_ip_get):
 * IPv4 dotted; IPv6 in RFC 5952 form (lower-case hex, the longest run of two or more zero
 * groups as `::`), an IPv4-mapped address as its plain IPv4 text and an IPv4-compatible one
 * as `::a.b.c.d`. uWS.js 20.30 only offers the uncompressed form (`0000:…:0001` for `::1`).
 */

/** The text of a 4- or 16-byte network-order address; "" for any other length. */
export function addressText(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return "";
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i] << 8) | b[i + 1]);
  // The first longest run of zero groups, if it is at least two long.
  let bestAt = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestAt = -1;
  const dotted = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (bestAt === 0 && bestLen === 5 && words[5] === 0xffff) return dotted; // ::ffff:a.b.c.d, as APR strips it
  if (bestAt === 0 && bestLen === 6 && words[6] !== 0) return `::${dotted}`;
  let text = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      text += "::";
      i += bestLen - 1;
      continue;
    }
    if (text !== "" && !text.endsWith(":")) text += ":";
    text += words[i].toString(16);
  }
  return text;
}
