/**
 * Request headers to environ keys, assembled the same way by both engines. What differs is
 * who computes a header name's key (the Rust `environ_key` or its TypeScript twin); the keys
 * are memoised per name, so a request pays a Map lookup per header, not a conversion, and
 * header values never cross the N-API boundary.
 */

/** A header name's environ key, for Authorization not passed and passed. */
type KeyPair = readonly [withoutAuth: string | null, withAuth: string | null];

/** Distinct header names remembered; beyond this (a client inventing names), keys are computed each time. */
const MEMO_LIMIT = 2048;

export type EnvironKeyOf = (name: string, passAuthorization: boolean) => string | null;

export function memoiseEnvironKey(compute: EnvironKeyOf): EnvironKeyOf {
  const memo = new Map<string, KeyPair>();
  return (name, pass) => {
    let pair = memo.get(name);
    if (pair === undefined) {
      pair = [compute(name, false), compute(name, true)];
      if (memo.size < MEMO_LIMIT) memo.set(name, pair);
    }
    return pair[pass ? 1 : 0];
  };
}

/** Flat `[name, value, ...]` -> flat `[key, value, ...]`: values trimmed, repeats joined with `, `. */
export function assembleHeaderEnviron(headers: readonly string[], passAuthorization: boolean, keyOf: EnvironKeyOf): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const key = keyOf(headers[i], passAuthorization);
    if (key === null) continue;
    const value = trimOws(headers[i + 1]);
    let at = -1;
    // Requests carry a handful of headers: a linear scan beats a Map here.
    for (let j = 0; j < out.length; j += 2) {
      if (out[j] === key) {
        at = j;
        break;
      }
    }
    if (at < 0) out.push(key, value);
    else out[at + 1] += ", " + value;
  }
  return out;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function trimOws(v: string): string {
  if (v.length === 0 || (!isOws(v.charCodeAt(0)) && !isOws(v.charCodeAt(v.length - 1)))) return v;
  let a = 0;
  let b = v.length;
  while (a < b && isOws(v.charCodeAt(a))) a++;
  while (b > a && isOws(v.charCodeAt(b - 1))) b--;
  return v.slice(a, b);
}
