/**
 * Apache (PCRE) regexes from the configuration, parsed once with regexp-tree and generated
 * again for both engines, so the two agree on every construct:
 *
 * - matching is on byte strings (one char per octet, as normalizePath returns), so a pattern
 *   is first encoded the same way (`é` in the config is the two octets PCRE sees);
 * - Apache compiles with DOTALL and DOLLAR_ENDONLY: `.` matches a newline, `$` only the end;
 * - `\d` `\w` `\s` and case folding are ASCII-only, as PCRE in the C locale: both outputs
 *   spell them as explicit classes and neither uses an `i` flag;
 * - lookaround and backreferences have no Rust equivalent: `rustSource` is null and the
 *   native engine evaluates that rule with RegExp.
 */
import regexpTree = require("regexp-tree");
import { NodewsgiError } from "../errors";
import { toByteString } from "./byte-string";

export interface TranslatedRegex {
  /** The pattern as written in the configuration. */
  readonly pattern: string;
  /** Source for `new RegExp(jsSource, "s")`. */
  readonly jsSource: string;
  /** Source for Rust's `regex::bytes::Regex`, or null when Rust cannot run it. */
  readonly rustSource: string | null;
  /** Octets every match starts with at offset 0 (`^/static/...`), "" when there are none. */
  readonly literalPrefix: string;
}

type Range = [number, number];
type Target = "js" | "rust";

class Unsupported extends Error {}

const DIGIT: Range[] = [[0x30, 0x39]];
const WORD: Range[] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const SPACE: Range[] = [[0x09, 0x0d], [0x20, 0x20]];
const POSIX: Record<string, string> = {
  alpha: "a-zA-Z", digit: "0-9", alnum: "a-zA-Z0-9", upper: "A-Z", lower: "a-z",
  space: "\\t\\n\\x0B\\x0C\\r ", blank: " \\t", xdigit: "0-9A-Fa-f", word: "\\w",
  punct: "!-\\/:-@\\[-`{-~", cntrl: "\\x00-\\x1F\\x7F", print: " -~", graph: "!-~",
};

function fail(pattern: string, why: string): never {
  throw new NodewsgiError("E_REGEX", `invalid regular expression ${JSON.stringify(pattern)}: ${why}`);
}

/** PCRE spellings JavaScript lacks, rewritten before parsing; returns [source, caseless]. */
function preprocess(pattern: string): [string, boolean] {
  let src = pattern;
  let caseless = false;
  const flags = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (flags) {
    if (flags[1] !== "i") fail(pattern, `inline flags (?${flags[1]}) are not supported`);
    caseless = true;
    src = src.slice(flags[0].length);
  }
  let out = "";
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      const n = src[i + 1] ?? "";
      i++;
      if (n === "Q") {
        // \Q...\E: everything between is literal.
        const end = src.indexOf("\\E", i + 1);
        const literal = src.slice(i + 1, end < 0 ? src.length : end);
        out += literal.replace(/[\\^$.*+?()[\]{}|\/-]/g, "\\$&");
        i = end < 0 ? src.length : end + 1;
        continue;
      }
      if (n === "E") continue; // a stray \E ends nothing
      if (!inClass && n === "A") out += "^";
      else if (!inClass && n === "z") out += "$";
      else if (!inClass && n === "Z") out += "(?=\\n?$)";
      else out += c + n;
      continue;
    }
    if (inClass) {
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(i));
      if (posix) {
        const body = POSIX[posix[2]];
        if (body === undefined || posix[1]) fail(pattern, `unsupported POSIX class ${posix[0]}`);
        out += body;
        i += posix[0].length - 1;
        continue;
      }
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      // PCRE: a `]` first in a class is a literal.
      if (src[i + 1] === "^") { out += "^"; i++; }
      if (src[i + 1] === "]") { out += "\\]"; i++; }
      continue;
    }
    if (c === "+" && i > 0 && "*+?}".includes(src[i - 1]) && src[i - 2] !== "\\") {
      fail(pattern, "possessive quantifiers (a++, a*+, ...) are not supported");
    }
    if (c === "(" && src[i + 1] === "?") {
      const rest = src.slice(i + 2);
      if (rest.startsWith("P<")) { out += "(?<"; i += 3; continue; }
      const named = /^P=(\w+)\)/.exec(rest);
      if (named) { out += `\\k<${named[1]}>`; i += 2 + named[0].length - 1; continue; }
      if (!/^[:=!<]/.test(rest)) fail(pattern, `unsupported group syntax (?${rest.slice(0, 2)}`);
    }
    out += c;
  }
  return [out, caseless];
}

function hex(c: number, target: Target): string {
  if (c <= 0xff) return "\\x" + c.toString(16).padStart(2, "0");
  if (target === "rust") throw new Unsupported("char above U+00FF");
  return "\\u" + c.toString(16).padStart(4, "0");
}

function complement(ranges: Range[], max: number): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= max) out.push([next, max]);
  return out;
}

/** ASCII case mates of a range, for caseless matching. */
function caseMates([lo, hi]: Range): Range[] {
  const out: Range[] = [];
  const a = Math.max(lo, 0x61), b = Math.min(hi, 0x7a);
  if (a <= b) out.push([a - 32, b - 32]);
  const c = Math.max(lo, 0x41), d = Math.min(hi, 0x5a);
  if (c <= d) out.push([c + 32, d + 32]);
  return out;
}

function charCode(node: any): number {
  if (node.kind === "control") return node.value.charCodeAt(2) % 32;
  if (node.kind === "meta" && node.value === "\\b") return 0x08; // backspace inside a class
  if (typeof node.codePoint !== "number") throw new Error(`unexpected char ${node.value}`);
  return node.codePoint;
}

const META_CLASSES: Record<string, [Range[], boolean]> = {
  "\\d": [DIGIT, false], "\\D": [DIGIT, true], "\\w": [WORD, false], "\\W": [WORD, true],
  "\\s": [SPACE, false], "\\S": [SPACE, true],
};

class Generator {
  constructor(private readonly target: Target, private readonly caseless: boolean) {}

  private max(): number {
    return this.target === "rust" ? 0xff : 0xffff;
  }

  private classBody(ranges: Range[]): string {
    const all = this.caseless ? ranges.flatMap((r) => [r, ...caseMates(r)]) : ranges;
    return all.map(([lo, hi]) => (lo === hi ? hex(lo, this.target) : hex(lo, this.target) + "-" + hex(hi, this.target))).join("");
  }

  /** The ranges one class item stands for. */
  private itemRanges(node: any): Range[] {
    if (node.type === "ClassRange") {
      if (META_CLASSES[node.from.value] || META_CLASSES[node.to.value]) {
        return [...this.itemRanges(node.from), [0x2d, 0x2d], ...this.itemRanges(node.to)];
      }
      return [[charCode(node.from), charCode(node.to)]];
    }
    const meta = META_CLASSES[node.value];
    if (node.kind === "meta" && meta) return meta[1] ? complement(meta[0], this.max()) : meta[0];
    const c = charCode(node);
    return [[c, c]];
  }

  gen(node: any): string {
    if (node === null || node === undefined) return "";
    switch (node.type) {
      case "Alternative":
        return node.expressions.map((e: any) => this.gen(e)).join("");
      case "Disjunction":
        return this.gen(node.left) + "|" + this.gen(node.right);
      case "Group":
        return (node.capturing ? "(" : "(?:") + this.gen(node.expression) + ")";
      case "Backreference":
        if (this.target === "rust") throw new Unsupported("backreference");
        return "\\" + node.number;
      case "Assertion":
        switch (node.kind) {
          case "^": case "$": return node.kind;
          case "\\b": case "\\B": return node.kind;
          default: {
            if (this.target === "rust") throw new Unsupported("lookaround");
            const head = node.kind === "Lookahead" ? "(?" : "(?<";
            return head + (node.negative ? "!" : "=") + this.gen(node.assertion) + ")";
          }
        }
      case "Repetition": {
        const q = node.quantifier;
        let s = q.kind === "Range" ? `{${q.from}${q.to === undefined ? "," : q.to === q.from ? "" : "," + q.to}}` : q.kind;
        if (!q.greedy) s += "?";
        return this.gen(node.expression) + s;
      }
      case "CharacterClass": {
        const ranges = node.expressions.flatMap((e: any) => this.itemRanges(e));
        if (ranges.length === 0) {
          if (this.target === "rust") throw new Unsupported("empty class");
          return node.negative ? "[^]" : "[]";
        }
        return "[" + (node.negative ? "^" : "") + this.classBody(ranges) + "]";
      }
      case "Char": {
        if (node.kind === "meta" && node.value === ".") return ".";
        const meta = META_CLASSES[node.value];
        if (node.kind === "meta" && meta) return "[" + (meta[1] ? "^" : "") + this.classBody(meta[0]) + "]";
        const c = charCode(node);
        if (this.caseless && caseMates([c, c]).length) return "[" + this.classBody([[c, c]]) + "]";
        return hex(c, this.target);
      }
      default:
        throw new Error(`unexpected regex node ${node.type}`);
    }
  }
}

function literalPrefix(body: any, caseless: boolean): string {
  if (caseless || body?.type !== "Alternative") return "";
  const [first, ...rest] = body.expressions;
  if (first?.type !== "Assertion" || first.kind !== "^") return "";
  let prefix = "";
  for (const e of rest) {
    if (e.type !== "Char" || e.kind === "meta" && (e.value === "." || META_CLASSES[e.value])) break;
    const c = charCode(e);
    if (c > 0xff) break;
    prefix += String.fromCharCode(c);
  }
  return prefix;
}

/** Validates and translates one configuration regex; throws NodewsgiError `E_REGEX`. */
export function translateApacheRegex(pattern: string): TranslatedRegex {
  const [source, caseless] = preprocess(toByteString(pattern));
  let ast: any;
  try {
    ast = regexpTree.parse(new RegExp(source));
  } catch (err) {
    fail(pattern, (err as Error).message.split("\n")[0]);
  }
  const jsSource = new Generator("js", caseless).gen(ast.body);
  let rustSource: string | null;
  try {
    rustSource = "(?s-u)" + new Generator("rust", caseless).gen(ast.body);
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    rustSource = null;
  }
  try {
    new RegExp(jsSource, "s");
  } catch (err) {
    fail(pattern, (err as Error).message);
  }
  return { pattern, jsSource, rustSource, literalPrefix: literalPrefix(ast.body, caseless) };
}
