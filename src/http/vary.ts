/**
 * httpd's fixup_vary (http_filters.c): before a head is sent, every Vary field of the response
 * becomes one, its field names split at commas and white space, kept once each (compared
 * without case, the first spelling wins) and joined with `,`. mod_rewrite's Vary comes first:
 * it was in headers_out before the handler added its own.
 */
import type { HeaderPair } from "./types";

/** The unique field names of some Vary values, in order; empty when there are none. */
export function varyNames(values: readonly string[]): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    for (const name of v.split(/[,\t-\r ]+/)) {
      if (name === "") continue;
      const key = name.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      names.push(name);
    }
  }
  return names;
}

/**
 * `headers` with every Vary field made one, as fixup_vary leaves them: the merged field where
 * the first one was (or at the end, for `first` values the headers lacked); unchanged when
 * there is no field name at all.
 */
export function withMergedVary(headers: readonly HeaderPair[], first: readonly string[] = []): readonly HeaderPair[] {
  const values = [...first];
  let at = -1;
  for (let i = 0; i < headers.length; i++) {
    if (headers[i]![0].toLowerCase() !== "vary") continue;
    if (at < 0) at = i;
    values.push(headers[i]![1]);
  }
  const names = varyNames(values);
  if (names.length === 0) return first.length === 0 ? headers : [...headers, ...first.map((v): HeaderPair => ["Vary", v])];
  const merged: HeaderPair = ["Vary", names.join(",")];
  const out: HeaderPair[] = [];
  for (let i = 0; i < headers.length; i++) {
    if (headers[i]![0].toLowerCase() !== "vary") out.push(headers[i]!);
    else if (i === at) out.push(merged);
  }
  if (at < 0) out.push(merged);
  return out;
}
