/**
 * apr_fnmatch as ap_expr's `-fnmatch`, `-strmatch` and `-strcmatch` use it: `*`, `?`, `[...]`
 * (`!` or `^` negates, ranges, `]` first is literal, `\` escapes), `\` escapes outside brackets;
 * with `pathname`, no wildcard matches `/` (only a literal `/` does); with `caseBlind`, ASCII
 * letters match either case.
 *
 * Matched directly, never through a regex: the pattern may come from the request
 * (`%{HTTP_USER_AGENT} -strmatch %{HTTP_REFERER}`), and a backtracking regex of k stars costs
 * n^k on an n-byte subject. This matcher remembers only the last `*` (any earlier star is
 * subsumed by it), so a segment costs at most pattern length × subject length steps, as
 * apr_fnmatch since its rewrite for CVE-2011-0419.
 */

export interface FnmatchOptions {
  /** APR_FNM_PATHNAME: `/` is matched only by a literal `/`. */
  readonly pathname?: boolean;
  /** APR_FNM_CASE_BLIND: ASCII case is ignored. */
  readonly caseBlind?: boolean;
}

export function fnmatch(pattern: string, subject: string, opts: FnmatchOptions = {}): boolean {
  const caseBlind = opts.caseBlind === true;
  if (!opts.pathname) return matchSegment(pattern, 0, pattern.length, subject, 0, subject.length, caseBlind);
  // With pathname, stars stop at slashes: the pattern's and the subject's slash-separated
  // segments must pair up one to one.
  const pSegs = segments(pattern);
  const sSegs = segments(subject);
  if (pSegs.length !== sSegs.length) return false;
  for (let i = 0; i < pSegs.length; i++) {
    const [ps, pe] = pSegs[i]!;
    const [ss, se] = sSegs[i]!;
    if (!matchSegment(pattern, ps, pe, subject, ss, se, caseBlind)) return false;
  }
  return true;
}

/** [start, end) of each `/`-separated segment (a slash after `\` or inside brackets still separates: pathname mode gives them no other meaning). */
function segments(s: string): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i === s.length || s.charCodeAt(i) === 0x2f) {
      out.push([start, i]);
      start = i + 1;
    }
  }
  return out;
}

function matchSegment(p: string, pi: number, pe: number, s: string, si: number, se: number, caseBlind: boolean): boolean {
  let starP = -1;
  let starS = 0;
  while (si < se) {
    if (pi < pe) {
      if (p.charCodeAt(pi) === 0x2a /* * */) {
        starP = pi++;
        starS = si;
        continue;
      }
      const next = matchOne(p, pi, pe, s.charCodeAt(si), caseBlind);
      if (next >= 0) {
        pi = next;
        si++;
        continue;
      }
    }
    // Let the last star take one more character and try the rest again.
    if (starP < 0) return false;
    pi = starP + 1;
    si = ++starS;
  }
  while (pi < pe && p.charCodeAt(pi) === 0x2a) pi++;
  return pi === pe;
}

/** Whether the pattern item at `pi` (not a star) matches character `c`: the index after the item, or -1. */
function matchOne(p: string, pi: number, pe: number, c: number, caseBlind: boolean): number {
  const ch = p.charCodeAt(pi);
  if (ch === 0x3f /* ? */) return pi + 1;
  if (ch === 0x5c /* \ */ && pi + 1 < pe) return same(p.charCodeAt(pi + 1), c, caseBlind) ? pi + 2 : -1;
  if (ch === 0x5b /* [ */) {
    const cls = bracket(p, pi, pe, c, caseBlind);
    // An unclosed `[` is a literal `[`.
    if (cls === null) return c === 0x5b ? pi + 1 : -1;
    return cls.matched ? cls.end : -1;
  }
  return same(ch, c, caseBlind) ? pi + 1 : -1;
}

/** A bracket expression starting at `p[pi] === "["`: whether it matches `c`, and the index after its `]`; null when it is not closed. */
function bracket(p: string, pi: number, pe: number, c: number, caseBlind: boolean): { matched: boolean; end: number } | null {
  let i = pi + 1;
  let negate = false;
  if (i < pe && (p[i] === "!" || p[i] === "^")) {
    negate = true;
    i++;
  }
  const lc = caseBlind ? lower(c) : c;
  let matched = false;
  let first = true;
  while (i < pe && (first || p[i] !== "]")) {
    first = false;
    let lo = p.charCodeAt(i);
    if (lo === 0x5c && i + 1 < pe) lo = p.charCodeAt(++i);
    i++;
    let hi = lo;
    if (i + 1 < pe && p[i] === "-" && p[i + 1] !== "]") {
      hi = p.charCodeAt(i + 1);
      if (hi === 0x5c && i + 2 < pe) {
        hi = p.charCodeAt(i + 2);
        i++;
      }
      i += 2;
    }
    if (caseBlind ? lower(lo) <= lc && lc <= lower(hi) : lo <= c && c <= hi) matched = true;
  }
  if (i >= pe) return null;
  return { matched: matched !== negate, end: i + 1 };
}

function same(a: number, b: number, caseBlind: boolean): boolean {
  return a === b || (caseBlind && lower(a) === lower(b));
}

/** ASCII tolower, as apr_tolower in the C locale (bytes beyond ASCII keep their case). */
function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}
