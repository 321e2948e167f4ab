/**
 * RewriteRule and RewriteCond flag fields, read the way mod_rewrite's cmd_parseflagfield /
 * cmd_rewriterule_setflag do: comma separated, `KEY=VALUE` split at the first `=`, the first
 * letter picks the family and the rest of the key is compared case-insensitively (so `QSA`,
 * `qsappend`, `nc`, `NoCase` all work). src/config/rewrite-rule.ts drives it, once per line.
 */

/** Parsed RewriteRule flags. */
export interface RuleFlags {
  last: boolean; // L
  end: boolean; // END
  chain: boolean; // C
  next: boolean; // N
  maxRounds: number; // N=max
  noSubreq: boolean; // NS
  nocase: boolean; // NC
  noEscape: boolean; // NE
  passThrough: boolean; // PT
  proxy: boolean; // P
  qsAppend: boolean; // QSA
  qsDiscard: boolean; // QSD
  qsLast: boolean; // QSL (also set by a trailing `?` with QSA)
  qsNone: boolean; // set by a trailing `?` without QSA, or QSD with no `?`
  /** R: the status it asked for (302 when bare; 0 for a word httpd does not know, which answers 302). */
  redirect: number | null;
  /** Response status of R=..., F, G: 302 unless said otherwise. */
  status: number;
  /** F, G, or R with a non-3xx code: answer with `status`, no substitution. */
  statusOnly: boolean;
  /** `-` substitution or statusOnly. */
  noSub: boolean;
  escapeBackrefs: boolean; // B
  escapeChars: string | null; // B=chars
  noEscapeChars: string | null; // BNE=chars
  escapeNoPlus: boolean; // BNP
  escapeCtls: boolean; // BCTLS
  discardPathInfo: boolean; // DPI
  skip: number; // S=N
  env: string[]; // E=VAR:VAL, E=!VAR (unexpanded)
  cookies: string[]; // CO=... (unexpanded)
  type: string | null; // T=
  handler: string | null; // H=
  unsafePrefixStat: boolean;
  unsafeAllow3F: boolean;
  unc: boolean;
}

export interface CondFlags {
  nocase: boolean;
  ornext: boolean;
  novary: boolean;
}

/** Apache's default limit on [N] rounds (REWRITE_MAX_ROUNDS in 2.4). */
export const DEFAULT_MAX_ROUNDS = 32000;

/** Status codes Apache knows a reason phrase for (ap_index_of_response). */
const KNOWN_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304,
  305, 306, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414,
  415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504,
  505, 506, 507, 508, 510, 511,
]);

export function defaultRuleFlags(): RuleFlags {
  return {
    last: false, end: false, chain: false, next: false, maxRounds: DEFAULT_MAX_ROUNDS,
    noSubreq: false, nocase: false, noEscape: false, passThrough: false, proxy: false,
    qsAppend: false, qsDiscard: false, qsLast: false, qsNone: false, redirect: null,
    status: 302, statusOnly: false, noSub: false, escapeBackrefs: false, escapeChars: null,
    noEscapeChars: null, escapeNoPlus: false, escapeCtls: false, discardPathInfo: false,
    skip: 0, env: [], cookies: [], type: null, handler: null, unsafePrefixStat: false,
    unsafeAllow3F: false, unc: false,
  };
}

/** C atoi: leading whitespace, optional sign, digits; anything else gives 0. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  const n = parseInt(m[1]!, 10);
  return Math.max(-2147483648, Math.min(2147483647, n));
}

/**
 * Split a flag field into [key, value] pairs. `field` is the third argument as written
 * (`[L,R=301]`); the brackets may be left off by a caller that already stripped them.
 * Throws Error with Apache's wording on bad delimiters.
 */
export function splitFlagField(field: string): Array<[string, string]> {
  let body = field;
  if (body.startsWith("[")) {
    if (!body.endsWith("]") || body.length < 2) {
      throw new Error(
        `bad flag delimiters: third argument must end with ']' but found '${body[body.length - 1]}'`,
      );
    }
    body = body.slice(1, -1);
  } else if (body.endsWith("]")) {
    throw new Error(`bad flag delimiters: third argument must begin with '[' but found '${body[0]}'`);
  }
  const out: Array<[string, string]> = [];
  for (const raw of (body + ",").split(",").slice(0, -1)) {
    const item = raw.trim();
    // An empty item (`[L,,R]`, `[L,]`, `[]`) reaches Apache's setter as an empty key: rejected.
    const eq = item.indexOf("=");
    out.push(eq < 0 ? [item, ""] : [item.slice(0, eq), item.slice(eq + 1)]);
  }
  return out;
}

const ci = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Apply one RewriteRule flag; returns an error message or null. */
export function setRuleFlag(f: RuleFlags, key: string, val: string): string | null {
  const head = key[0] ?? "";
  const rest = key.slice(1);
  const bad = () => `unknown flag '${key}'`;
  switch (head.toLowerCase()) {
    case "b":
      if (rest === "" || ci(rest, "ackrefescaping")) {
        f.escapeBackrefs = true;
        if (val) f.escapeChars = val;
      } else if (ci(rest, "NE")) {
        if (!val) return "flag 'BNE' wants a list of characters (i.e. [BNE=...])";
        f.noEscapeChars = val;
      } else if (ci(rest, "NP") || ci(rest, "ackrefernoplus")) {
        f.escapeNoPlus = true;
      } else if (ci(rest, "CTLS")) {
        f.escapeCtls = true;
        f.escapeBackrefs = true;
      } else return bad();
      return null;
    case "c":
      if (rest === "" || ci(rest, "hain")) f.chain = true;
      else if (ci(rest, "O") || ci(rest, "ookie")) f.cookies.push(val);
      else return bad();
      return null;
    case "d":
      // Apache ignores any other D... flag without complaint.
      if (rest === "" || ci(rest, "PI") || ci(rest, "iscardpath")) f.discardPathInfo = true;
      return null;
    case "e":
      if (rest === "" || ci(rest, "nv")) f.env.push(val);
      else if (ci(rest, "nd")) f.end = true;
      else return bad();
      return null;
    case "f":
      if (rest === "" || ci(rest, "orbidden")) {
        f.statusOnly = f.noSub = true;
        f.status = 403;
      } else return bad();
      return null;
    case "g":
      if (rest === "" || ci(rest, "one")) {
        f.statusOnly = f.noSub = true;
        f.status = 410;
      } else return bad();
      return null;
    case "h":
      if (rest === "" || ci(rest, "andler")) f.handler = val;
      else return bad();
      return null;
    case "l":
      if (rest === "" || ci(rest, "ast")) f.last = true;
      else return bad();
      return null;
    case "n":
      if (ci(rest, "E") || ci(rest, "oescape")) f.noEscape = true;
      else if (rest === "" || ci(rest, "ext")) {
        f.next = true;
        if (val) f.maxRounds = atoi(val);
      } else if (ci(rest, "S") || ci(rest, "osubreq")) f.noSubreq = true;
      else if (ci(rest, "C") || ci(rest, "ocase")) f.nocase = true;
      else return bad();
      return null;
    case "p":
      if (rest === "" || ci(rest, "roxy")) f.proxy = true;
      else if (ci(rest, "T") || ci(rest, "assthrough")) f.passThrough = true;
      else return bad();
      return null;
    case "q":
      if (ci(rest, "SA") || ci(rest, "sappend")) f.qsAppend = true;
      else if (ci(rest, "SD") || ci(rest, "sdiscard")) f.qsDiscard = true;
      else if (ci(rest, "SL") || ci(rest, "slast")) f.qsLast = true;
      else return bad();
      return null;
    case "r":
      if (rest === "" || ci(rest, "edirect")) {
        f.redirect = 302;
        if (val) {
          let status = 0;
          if (ci(val, "permanent")) status = 301;
          else if (ci(val, "temp")) status = 302;
          else if (ci(val, "seeother")) status = 303;
          else if (/^\d/.test(val)) {
            status = atoi(val);
            if (status !== 500 && !KNOWN_STATUS.has(status)) {
              return `invalid HTTP response code '${val}' for flag 'R'`;
            }
            if (!(status >= 300 && status <= 399)) f.statusOnly = f.noSub = true;
          }
          f.status = f.redirect = status;
        }
      } else return bad();
      return null;
    case "s":
      if (rest === "" || ci(rest, "kip")) f.skip = atoi(val);
      else return bad();
      return null;
    case "t":
      if (rest === "" || ci(rest, "ype")) f.type = val;
      else return bad();
      return null;
    case "u":
      if (ci(rest, "nsafePrefixStat")) f.unsafePrefixStat = true;
      else if (ci(rest, "nsafeAllow3F")) f.unsafeAllow3F = true;
      else if (ci(rest, "NC")) f.unc = true;
      else return bad();
      return null;
    default:
      return bad();
  }
}
