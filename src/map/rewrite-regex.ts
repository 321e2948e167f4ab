/**
 * Apache (PCRE2) regular expressions as JavaScript RegExps, for mod_rewrite.
 *
 * Apache 2.4 compiles every config regex with DOTALL and DOLLAR_ENDONLY by default
 * (AP_REG_DEFAULT), so `.` matches a newline (JS flag `s`) and `$` matches only at the very end
 * (JS `$` without `m`). The differences that remain are translated lexically here; constructs
 * JavaScript cannot express (atomic groups, possessive quantifiers, inline flags other than a
 * leading `(?i)`/`(?s)`/`(?m)`, recursion, conditionals, `\G`, `\K`) are refused so a rule never
 * silently means something else.
 */
import * as regexpTree from "regexp-tree";

export interface TranslatedRegex {
  readonly regex: RegExp;
  /** The JavaScript source, for diagnostics. */
  readonly source: string;
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: "a-zA-Z0-9",
  alpha: "a-zA-Z",
  ascii: "\\x00-\\x7f",
  blank: " \\t",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "\\x21-\\x7e",
  lower: "a-z",
  print: "\\x20-\\x7e",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "\\w",
  xdigit: "0-9A-Fa-f",
};

const HSPACE = "\\t \\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000";
const VSPACE = "\\n\\v\\f\\r\\x85\\u2028\\u2029";

function escapeLiteral(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? "\\" + ch : ch;
}

/** Translate the escape at `src[i]` (a backslash); returns [output, next index]. */
function translateEscape(src: string, i: number, inClass: boolean): [string, number] {
  const c = src[i + 1];
  if (c === undefined) throw new Error("\\ at end of pattern");
  switch (c) {
    case "x": {
      if (src[i + 2] === "{") {
        const end = src.indexOf("}", i + 3);
        if (end < 0) throw new Error("unterminated \\x{...}");
        const code = parseInt(src.slice(i + 3, end), 16);
        if (!Number.isFinite(code) || code > 0xffff) throw new Error("unsupported \\x{...} value");
        return ["\\u" + code.toString(16).padStart(4, "0"), end + 1];
      }
      return ["\\x", i + 2];
    }
    case "e":
      return ["\\x1b", i + 2];
    case "a":
      return ["\\x07", i + 2];
    case "h":
      return [inClass ? HSPACE : `[${HSPACE}]`, i + 2];
    case "v":
      return [inClass ? VSPACE : `[${VSPACE}]`, i + 2];
    case "H":
    case "V":
      if (inClass) throw new Error(`\\${c} inside a character class is not supported`);
      return [`[^${c === "H" ? HSPACE : VSPACE}]`, i + 2];
    case "R":
      if (inClass) throw new Error("\\R inside a character class");
      return [`(?:\\r\\n|[${VSPACE}])`, i + 2];
    case "A":
      if (inClass) throw new Error("\\A inside a character class");
      return ["^", i + 2];
    case "z":
      if (inClass) throw new Error("\\z inside a character class");
      return ["$", i + 2];
    case "Z":
      if (inClass) throw new Error("\\Z inside a character class");
      return ["(?=\\n?$)", i + 2];
    case "Q": {
      const end = src.indexOf("\\E", i + 2);
      const lit = src.slice(i + 2, end < 0 ? src.length : end);
      return [Array.from(lit).map(escapeLiteral).join(""), end < 0 ? src.length : end + 2];
    }
    case "E":
      return ["", i + 2];
    case "g": {
      const m = /^\\g(?:\{(-?\d+)\}|(\d+))/.exec(src.slice(i));
      if (!m || (m[1] ?? "").startsWith("-")) throw new Error("unsupported \\g reference");
      return ["\\" + (m[1] ?? m[2]), i + m[0].length];
    }
    case "k": {
      const m = /^\\k(?:<(\w+)>|'(\w+)'|\{(\w+)\})/.exec(src.slice(i));
      if (!m) throw new Error("bad \\k reference");
      return [`\\k<${m[1] ?? m[2] ?? m[3]}>`, i + m[0].length];
    }
    case "d": case "D": case "w": case "W": case "s": case "S": case "n": case "r":
    case "t": case "f": case "0": case "c":
      return ["\\" + c, i + 2];
    case "b":
      return [inClass ? "\\x08" : "\\b", i + 2];
    case "B":
      if (inClass) throw new Error("\\B inside a character class");
      return ["\\B", i + 2];
    default:
      if (/[1-9]/.test(c)) {
        if (inClass) throw new Error("back-reference inside a character class");
        return ["\\" + c, i + 2];
      }
      if (/[A-Za-z]/.test(c)) throw new Error(`unsupported escape \\${c}`);
      // PCRE: a backslash before any non-alphanumeric character makes it literal.
      return ["\\" + c, i + 2];
  }
}

/** Translate a bracket expression starting at `src[i] === "["`; returns [output, next index]. */
function translateClass(src: string, i: number): [string, number] {
  let out = "[";
  let j = i + 1;
  if (src[j] === "^") {
    out += "^";
    j++;
  }
  // PCRE: a `]` right after `[` or `[^` is a literal, in JavaScript it would close the class.
  if (src[j] === "]") {
    out += "\\]";
    j++;
  }
  for (;;) {
    const c = src[j];
    if (c === undefined) throw new Error("missing terminating ] for character class");
    if (c === "]") return [out + "]", j + 1];
    if (c === "[") {
      const m = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(j));
      if (m) {
        const cls = POSIX_CLASSES[m[2]!];
        if (cls === undefined) throw new Error(`unknown POSIX class name [:${m[2]}:]`);
        if (m[1]) throw new Error("negated POSIX classes are not supported");
        out += cls;
        j += m[0].length;
        continue;
      }
      out += "\\[";
      j++;
      continue;
    }
    if (c === "\\") {
      const [t, next] = translateEscape(src, j, true);
      out += t;
      j = next;
      continue;
    }
    out += c;
    j++;
  }
}

/** Translate a PCRE pattern to a JS RegExp; throws Error with a reason on unsupported syntax. */
export function translatePcre(pattern: string, nocase: boolean): TranslatedRegex {
  let flags = "s" + (nocase ? "i" : "");
  let out = "";
  let i = 0;
  // A leading option setting applies to the whole pattern: JavaScript flags can say that.
  const lead = /^\(\?([ims]+)\)/.exec(pattern);
  if (lead) {
    for (const f of lead[1]!) if (!flags.includes(f)) flags += f;
    i = lead[0].length;
  }
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "\\") {
      const [t, next] = translateEscape(pattern, i, false);
      out += t;
      i = next;
    } else if (c === "[") {
      const [t, next] = translateClass(pattern, i);
      out += t;
      i = next;
    } else if (c === "(") {
      if (pattern[i + 1] !== "?") {
        out += "(";
        i++;
        continue;
      }
      const rest = pattern.slice(i);
      let m: RegExpExecArray | null;
      if (rest.startsWith("(?#")) {
        const end = pattern.indexOf(")", i);
        if (end < 0) throw new Error("missing ) after comment");
        i = end + 1;
      } else if ((m = /^\(\?(?::|=|!|<=|<!)/.exec(rest))) {
        out += m[0];
        i += m[0].length;
      } else if ((m = /^\(\?(?:P?<(\w+)>|'(\w+)')/.exec(rest))) {
        out += `(?<${m[1] ?? m[2]}>`;
        i += m[0].length;
      } else if ((m = /^\(\?P=(\w+)\)/.exec(rest))) {
        out += `\\k<${m[1]}>`;
        i += m[0].length;
      } else {
        throw new Error(`unsupported group syntax ${rest.slice(0, 4)}...`);
      }
    } else if ((c === "+" || c === "*" || c === "?" || c === "}") && pattern[i + 1] === "+" && c !== "?" ) {
      // `x*+`, `x++`, `x{n}+`: possessive quantifiers have no JavaScript equivalent.
      if (c === "}" && !/\{\d+(,\d*)?\}$/.test(pattern.slice(0, i + 1))) {
        out += c;
        i++;
      } else {
        throw new Error("possessive quantifiers are not supported");
      }
    } else if (c === "?" && pattern[i + 1] === "+" && i > 0 && pattern[i - 1] !== "(") {
      throw new Error("possessive quantifiers are not supported");
    } else if (c === "/") {
      out += "\\/";
      i++;
    } else {
      out += c;
      i++;
    }
  }
  try {
    regexpTree.parse(`/${out}/${flags}`);
  } catch (e) {
    throw new Error((e as Error).message.split("\n")[0]);
  }
  let regex: RegExp;
  try {
    regex = new RegExp(out, flags);
  } catch (e) {
    throw new Error((e as Error).message);
  }
  return { regex, source: out };
}
