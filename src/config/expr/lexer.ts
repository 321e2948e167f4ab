/**
 * The scanner of httpd's ap_expr (server/util_expr_scan.l, 2.4): the same start conditions
 * (words in quotes with `%{...}` and `$N` inside them, variables, `%{func:arg}` arguments,
 * `/regex/` and `m#regex#`) and the same longest-match choices (`-eq` is an operator, `-e` a
 * unary test, `-ipmatch` a binary one; `true`, `and`, `eq` ... are words only alone). The
 * scanner does not know the grammar: a `/` anywhere outside a string starts a regex, as in httpd.
 */

export type TokenKind =
  | "STR_BEGIN" | "STR_END" | "STRING" | "VAR_BEGIN" | "VAR_END" | "ID" | "COLON" | "BACKREF"
  | "REGEX" | "DIGIT" | "UNARY" | "BINARY" | "TRUE" | "FALSE"
  | "EQ" | "NE" | "LT" | "LE" | "GT" | "GE" | "STR_EQ" | "STR_NE" | "STR_LT" | "STR_LE" | "STR_GT" | "STR_GE"
  | "REG" | "NRE" | "IN" | "AND" | "OR" | "NOT" | "CONCAT"
  | "(" | ")" | "{" | "}" | "," | "ERROR" | "EOF";

export interface Token {
  readonly kind: TokenKind;
  /** STRING, ID, DIGIT, REGEX (the pattern), UNARY/BINARY (the name without `-`). */
  readonly text?: string;
  /** BACKREF: the digit. */
  readonly n?: number;
  /** REGEX: the `i` flag. */
  readonly icase?: boolean;
  /** ERROR: the scanner's message (httpd's PERROR). */
  readonly message?: string;
}

/** A scanning error: the message is httpd's (`Parse error near '@'`, ...). */
export class ExprScanError extends Error {}

/** httpd's token names, as bison's messages print them. */
export const TOKEN_NAMES: Record<TokenKind, string> = {
  STR_BEGIN: "T_STR_BEGIN", STR_END: "T_STR_END", STRING: "T_STRING", VAR_BEGIN: "T_VAR_BEGIN", VAR_END: "T_VAR_END",
  ID: "T_ID", COLON: "':'", BACKREF: "T_REGEX_BACKREF", REGEX: "T_REGEX", DIGIT: "T_DIGIT", UNARY: "T_OP_UNARY",
  BINARY: "T_OP_BINARY", TRUE: "T_TRUE", FALSE: "T_FALSE", EQ: "T_OP_EQ", NE: "T_OP_NE", LT: "T_OP_LT", LE: "T_OP_LE",
  GT: "T_OP_GT", GE: "T_OP_GE", STR_EQ: "T_OP_STR_EQ", STR_NE: "T_OP_STR_NE", STR_LT: "T_OP_STR_LT", STR_LE: "T_OP_STR_LE",
  STR_GT: "T_OP_STR_GT", STR_GE: "T_OP_STR_GE", REG: "T_OP_REG", NRE: "T_OP_NRE", IN: "T_OP_IN", AND: "T_OP_AND",
  OR: "T_OP_OR", NOT: "T_OP_NOT", CONCAT: "T_OP_CONCAT", "(": "'('", ")": "')'", "{": "'{'", "}": "'}'", ",": "','",
  ERROR: "T_ERROR", EOF: "$end",
};

const WORD_OPS: Record<string, TokenKind> = {
  and: "AND", or: "OR", not: "NOT", lt: "LT", le: "LE", gt: "GT", ge: "GE", ne: "NE", eq: "EQ", in: "IN",
  true: "TRUE", false: "FALSE",
};
const DASH_OPS: Record<string, TokenKind> = { in: "IN", eq: "EQ", ne: "NE", ge: "GE", le: "LE", gt: "GT", lt: "LT" };
const REGEX_DELIMS = "/#$%^,;:_?|-!.'\"";

type State = "initial" | "str" | "var" | "vararg";

/**
 * Scan a boolean expression into tokens. A scanning error ends the list with an ERROR token,
 * as flex hands httpd's parser T_ERROR, which decides how the message reads.
 */
export function scan(src: string, stringMode = false): Token[] {
  const out: Token[] = [];
  try {
    scanInto(src, out, stringMode);
  } catch (e) {
    if (!(e instanceof ExprScanError)) throw e;
    out.push({ kind: "ERROR", message: e.message });
  }
  return out;
}

/** `stringMode`: a string-valued expression (AP_EXPR_FLAG_STRING_RESULT): all of it is one unquoted string. */
function scanInto(src: string, out: Token[], stringMode: boolean): void {
  const stack: State[] = [];
  let state: State = stringMode ? "str" : "initial";
  let strDelim = "";
  let buf = "";
  let i = 0;
  const n = src.length;
  const flush = () => {
    out.push({ kind: "STRING", text: buf });
    buf = "";
  };
  while (i < n) {
    const c = src[i]!;
    if (state === "str" || state === "vararg") {
      if (state === "str" && (c === '"' || c === "'")) {
        if (c !== strDelim) {
          buf += c;
          i++;
        } else if (buf !== "") flush();
        else {
          out.push({ kind: "STR_END" });
          state = "initial";
          i++;
        }
        continue;
      }
      if (c === "\n") throw new ExprScanError("Unterminated string or variable");
      if (c === "\\") {
        const m = /^\\([0-7]{1,3}|[0-9]+|[\s\S])/.exec(src.slice(i));
        if (!m) {
          // A lone backslash at the very end: flex has no rule for it in these states.
          throw new ExprScanError("Unterminated string or variable");
        }
        const e = m[1]!;
        if (/^[0-7]{1,3}$/.test(e)) {
          const v = parseInt(e, 8);
          if (v > 0xff) throw new ExprScanError("Escape sequence out of bound");
          buf += String.fromCharCode(v);
        } else if (/^[0-9]/.test(e)) throw new ExprScanError("Bad escape sequence");
        else buf += e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : e === "b" ? "\b" : e === "f" ? "\f" : e;
        i += m[0].length;
        continue;
      }
      if (c === "$" && /[0-9]/.test(src[i + 1] ?? "")) {
        if (buf !== "") flush();
        else {
          out.push({ kind: "BACKREF", n: Number(src[i + 1]) });
          i += 2;
        }
        continue;
      }
      if (c === "%" && src[i + 1] === "{") {
        if (buf !== "") flush();
        else {
          stack.push(state);
          state = "var";
          out.push({ kind: "VAR_BEGIN" });
          i += 2;
        }
        continue;
      }
      if (state === "vararg" && c === "}") {
        if (buf !== "") flush();
        else {
          state = stack.pop()!;
          out.push({ kind: "VAR_END" });
          i++;
        }
        continue;
      }
      if (state === "vararg" && (c === '"' || c === "'")) throw new ExprScanError(`Parse error near '${c}'`);
      buf += c;
      i++;
      continue;
    }
    if (state === "var") {
      const id = /^[a-zA-Z][a-zA-Z0-9_]*/.exec(src.slice(i));
      if (id) {
        out.push({ kind: "ID", text: id[0] });
        i += id[0].length;
      } else if (c === "}") {
        state = stack.pop()!;
        out.push({ kind: "VAR_END" });
        i++;
      } else if (c === ":") {
        state = "vararg";
        out.push({ kind: "COLON" });
        i++;
      } else throw new ExprScanError(`Invalid character in variable name '${c}'`);
      continue;
    }
    // INITIAL
    if (c === " " || c === "\t" || c === "\n") {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      strDelim = c;
      buf = "";
      state = "str";
      out.push({ kind: "STR_BEGIN" });
      i++;
      continue;
    }
    if (c === "%" && src[i + 1] === "{") {
      stack.push("initial");
      state = "var";
      out.push({ kind: "VAR_BEGIN" });
      i += 2;
      continue;
    }
    if (c === "$" && /[0-9]/.test(src[i + 1] ?? "")) {
      out.push({ kind: "BACKREF", n: Number(src[i + 1]) });
      i += 2;
      continue;
    }
    // `m_x` is a name (flex takes the longest match); `m#...#` and `m_..._` (then not a name) a regex.
    if (c === "/" || (c === "m" && REGEX_DELIMS.includes(src[i + 1] ?? "\0") && !(src[i + 1] === "_" && /[a-zA-Z0-9_]/.test(src[i + 2] ?? "")))) {
      const delim = c === "/" ? "/" : src[i + 1]!;
      const start = i + (c === "/" ? 1 : 2);
      const end = src.indexOf(delim, start);
      // An unterminated regex runs to the end (flex's <regex> state has no EOF rule): nothing matches it.
      if (end < 0) throw new ExprScanError("Unterminated regular expression");
      const icase = src[end + 1] === "i";
      out.push({ kind: "REGEX", text: src.slice(start, end), icase });
      i = end + 1 + (icase ? 1 : 0);
      continue;
    }
    const rest = src.slice(i);
    const op = /^(=~|==?|!=|!~|<=|>=|&&|\|\||<|>|!|\.)/.exec(rest);
    if (op) {
      const kinds: Record<string, TokenKind> = {
        "=": "STR_EQ", "==": "STR_EQ", "!=": "STR_NE", "<": "STR_LT", "<=": "STR_LE", ">": "STR_GT", ">=": "STR_GE",
        "=~": "REG", "!~": "NRE", "&&": "AND", "||": "OR", "!": "NOT", ".": "CONCAT",
      };
      out.push({ kind: kinds[op[0]]! });
      i += op[0].length;
      continue;
    }
    const digit = /^-?[0-9]+/.exec(rest);
    const dash = /^-[a-zA-Z_][a-zA-Z_0-9]*/.exec(rest);
    if (dash && !(digit && digit[0].length >= dash[0].length)) {
      const name = dash[0].slice(1);
      const fixed = DASH_OPS[name];
      if (fixed) out.push({ kind: fixed });
      else out.push({ kind: name.length === 1 ? "UNARY" : "BINARY", text: name });
      i += dash[0].length;
      continue;
    }
    if (digit) {
      out.push({ kind: "DIGIT", text: digit[0] });
      i += digit[0].length;
      continue;
    }
    const id = /^[a-zA-Z][a-zA-Z0-9_]*/.exec(rest);
    if (id) {
      const kw = WORD_OPS[id[0]];
      out.push(kw ? { kind: kw } : { kind: "ID", text: id[0] });
      i += id[0].length;
      continue;
    }
    if ("(){},:".includes(c)) {
      out.push({ kind: c === ":" ? "COLON" : (c as TokenKind) });
      i++;
      continue;
    }
    throw new ExprScanError(`Parse error near '${c}'`);
  }
  // A string-valued expression ends with its text (an empty part when there is none left).
  if (stringMode && state === "str" && stack.length === 0) flush();
  else if (state !== "initial") throw new ExprScanError("Unterminated string or variable");
  out.push({ kind: "EOF" });
}
