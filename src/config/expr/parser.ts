/**
 * ap_expr's grammar (server/util_expr_parse.y, httpd 2.4) as a recursive-descent parser: a
 * boolean expression to an AST, with httpd's lookups done here, at configuration time, so an
 * unknown variable, function or operator, a bad regex or a bad -ipmatch network is a
 * configuration error with httpd's wording ("Variable 'X' does not exist", ...).
 * `||` and `&&` associate to the right and `!` binds tighter than both, as httpd's %right
 * declarations make them.
 */
import { toByteString } from "../../engine/byte-string";
import { compileConfigRegex } from "../regex";
import { parseIpRule, type IpRule } from "../../auth/ip";
import { scan, TOKEN_NAMES, type Token, type TokenKind } from "./lexer";

export type Word =
  | { readonly t: "str"; readonly v: string; readonly digit?: boolean }
  | { readonly t: "var"; readonly name: string }
  | { readonly t: "func"; readonly name: string; readonly arg: Word }
  | { readonly t: "concat"; readonly parts: readonly Word[] }
  | { readonly t: "backref"; readonly n: number };

export type CompareOp = "EQ" | "NE" | "LT" | "LE" | "GT" | "GE" | "STR_EQ" | "STR_NE" | "STR_LT" | "STR_LE" | "STR_GT" | "STR_GE";

export type Cond =
  | { readonly t: "const"; readonly v: boolean }
  | { readonly t: "not"; readonly e: Cond }
  | { readonly t: "and" | "or"; readonly a: Cond; readonly b: Cond }
  | { readonly t: "cmp"; readonly op: CompareOp; readonly a: Word; readonly b: Word }
  | { readonly t: "in"; readonly a: Word; readonly list: readonly Word[] }
  | { readonly t: "regex"; readonly negate: boolean; readonly a: Word; readonly re: RegExp; readonly groups: boolean }
  | { readonly t: "unary"; readonly op: string; readonly a: Word; readonly subnet?: IpRule }
  | { readonly t: "binary"; readonly op: string; readonly a: Word; readonly b: Word; readonly subnet?: IpRule };

/** A parsed expression: the AST and what it reads, worked out once. */
export interface Expr {
  readonly source: string;
  /** Where it was written: httpd names it when an evaluation fails. */
  readonly where?: { readonly file: string; readonly line: number };
  readonly root: Cond;
  /** It reads REMOTE_USER: a denial by `Require expr` may then be answered with authentication. */
  readonly readsUser: boolean;
}

/** A malformed expression; the message is httpd's (without the directive's own prefix). */
export class ExprError extends Error {}

/** httpd's variables (util_expr_eval.c: misc, request header, request and connection variables). */
export const VARIABLES: ReadonlySet<string> = new Set([
  "TIME_YEAR", "TIME_MON", "TIME_DAY", "TIME_HOUR", "TIME_MIN", "TIME_SEC", "TIME_WDAY", "TIME", "SERVER_SOFTWARE", "API_VERSION",
  "HTTP_USER_AGENT", "HTTP_PROXY_CONNECTION", "HTTP_REFERER", "HTTP_COOKIE", "HTTP_FORWARDED", "HTTP_HOST", "HTTP_ACCEPT",
  "REQUEST_METHOD", "REQUEST_SCHEME", "REQUEST_URI", "REQUEST_FILENAME", "REMOTE_HOST", "REMOTE_IDENT", "REMOTE_USER",
  "SERVER_ADMIN", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SCRIPT_FILENAME", "PATH_INFO", "QUERY_STRING",
  "IS_SUBREQ", "DOCUMENT_ROOT", "AUTH_TYPE", "THE_REQUEST", "CONTENT_TYPE", "HANDLER", "REQUEST_LOG_ID", "SCRIPT_USER",
  "SCRIPT_GROUP", "DOCUMENT_URI", "LAST_MODIFIED", "CONTEXT_PREFIX", "CONTEXT_DOCUMENT_ROOT", "REQUEST_STATUS",
  "REMOTE_ADDR", "REMOTE_PORT",
  "HTTPS", "IPV6", "CONN_LOG_ID", "CONN_REMOTE_ADDR", "HTTP2",
]);

/** httpd's string functions; `ldap` is refused (nodewsgi has no LDAP escaping). */
export const FUNCTIONS: ReadonlySet<string> = new Set([
  "osenv", "env", "resp", "req", "http", "note", "reqenv", "req_novary", "tolower", "toupper", "escape", "unescape",
  "file", "filesize", "base64", "unbase64", "sha1", "md5",
]);

const UNARY = new Set(["n", "z", "R", "T", "d", "e", "f", "s", "L", "h", "x", "F", "U", "A"]);
const BINARY = new Set(["ipmatch", "fnmatch", "strmatch", "strcmatch"]);
const COMPARE: ReadonlySet<TokenKind> = new Set(["EQ", "NE", "LT", "LE", "GT", "GE", "STR_EQ", "STR_NE", "STR_LT", "STR_LE", "STR_GT", "STR_GE"]);

/** Parse a boolean expression. Throws ExprError with httpd's message. */
export function parseExpr(source: string, where?: { readonly file: string; readonly line: number }): Expr {
  const p = new Parser(scan(source));
  const root = p.expr(true);
  p.expect("EOF");
  // A failed lookup does not stop bison's parse: its message comes at the end, alone.
  if (p.lookupError !== null) throw new ExprError(p.lookupError);
  return { source, root, readsUser: p.readsUser, ...(where ? { where } : {}) };
}

/** A string-valued expression (mod_headers' `expr=` values): text with `%{...}` and `$N` in it. */
export interface StringExpr {
  readonly source: string;
  readonly where?: { readonly file: string; readonly line: number };
  readonly word: Word;
}

/** Parse a string-valued expression. Throws ExprError with httpd's message. */
export function parseStringExpr(source: string, where?: { readonly file: string; readonly line: number }): StringExpr {
  const p = new Parser(scan(source, true));
  const word = p.stringExpr();
  if (p.lookupError !== null) throw new ExprError(p.lookupError);
  return { source, word, ...(where ? { where } : {}) };
}

class Parser {
  private i = 0;
  readsUser = false;
  /** httpd's error2: the last failed lookup (unknown variable, function, operator, bad network). */
  lookupError: string | null = null;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  /**
   * bison's verbose message: the unexpected token, the few tokens the state could take, and
   * the scanner's or a lookup's message after a colon.
   */
  private unexpected(...expecting: TokenKind[]): never {
    // After =~ httpd's grammar has two regex tokens (with and without the i flag); the scanner here has one.
    const names = expecting.flatMap((k) => (k === "REGEX" ? ["T_REGEX", "T_REGEX_I"] : [TOKEN_NAMES[k]]));
    const tok = this.peek();
    let msg = `syntax error, unexpected ${TOKEN_NAMES[tok.kind]}`;
    if (names.length > 0) msg += ", expecting " + names.join(" or ");
    const detail = tok.kind === "ERROR" ? tok.message! : this.lookupError;
    throw new ExprError(detail !== null ? `${msg}: ${detail}` : msg);
  }
  /** Where the grammar takes T_ERROR (an expression's or a string's start), httpd gives the scanner's message alone. */
  private scanError(): void {
    const tok = this.peek();
    if (tok.kind === "ERROR") throw new ExprError(tok.message!);
  }
  private lookupFailed(message: string): void {
    this.lookupError = message;
  }
  expect(kind: TokenKind, ...alternatives: TokenKind[]): Token {
    if (this.peek().kind !== kind) this.unexpected(kind, ...alternatives);
    return this.next();
  }

  expr(top = false, nested = false): Cond {
    const a = this.and();
    const k = this.peek().kind;
    if (k !== "OR") {
      if (top && k !== "EOF") this.unexpected("EOF");
      if (nested && k !== ")") this.unexpected("OR", "AND", ")");
      return a;
    }
    this.next();
    return { t: "or", a, b: this.expr(top, nested) };
  }
  private and(): Cond {
    const a = this.not();
    if (this.peek().kind !== "AND") return a;
    this.next();
    return { t: "and", a, b: this.and() };
  }
  private not(): Cond {
    this.scanError();
    if (this.peek().kind !== "NOT") return this.primary();
    this.next();
    return { t: "not", e: this.not() };
  }
  private primary(): Cond {
    const tok = this.peek();
    switch (tok.kind) {
      case "TRUE":
      case "FALSE":
        this.next();
        return { t: "const", v: tok.kind === "TRUE" };
      case "(": {
        this.next();
        const e = this.expr(false, true);
        this.expect(")");
        return e;
      }
      case "UNARY": {
        this.next();
        const a = this.word();
        const op = tok.text!;
        if (!UNARY.has(op)) this.lookupFailed(`Unary operator '-${op}' does not exist`);
        else if (op === "R") return { t: "unary", op, a, subnet: this.subnetOf(op, a) };
        return { t: "unary", op, a };
      }
    }
    const a = this.word();
    const op = this.next();
    if (COMPARE.has(op.kind)) return { t: "cmp", op: op.kind as CompareOp, a, b: this.word() };
    switch (op.kind) {
      case "BINARY": {
        const b = this.word();
        const name = op.text!.toLowerCase();
        if (!BINARY.has(name)) this.lookupFailed(`Binary operator '-${op.text}' does not exist`);
        else if (name === "ipmatch") return { t: "binary", op: name, a, b, subnet: this.subnetOf(name, b) };
        return { t: "binary", op: name, a, b };
      }
      case "IN":
        return { t: "in", a, list: this.wordList() };
      case "REG":
      case "NRE": {
        const re = this.peek();
        if (re.kind !== "REGEX") this.unexpected("REGEX");
        this.next();
        let compiled;
        try {
          compiled = compileConfigRegex(re.text!, re.icase);
        } catch {
          throw new ExprError("Failed to compile regular expression");
        }
        // httpd keeps $0..$9 only from a regex with a capturing group.
        const groups = new RegExp(compiled.jsSource + "|").exec("")!.length > 1;
        return { t: "regex", negate: op.kind === "NRE", a, re: compiled.regexp, groups };
      }
    }
    this.i--;
    this.unexpected();
  }

  stringExpr(): Word {
    this.scanError();
    const w = this.string("EOF");
    this.expect("EOF");
    return w;
  }

  private wordList(): Word[] {
    const tok = this.peek();
    if (tok.kind === "{") {
      this.next();
      const list = [this.word()];
      while (this.peek().kind === ",") {
        this.next();
        list.push(this.word());
      }
      this.expect("}", ",");
      return list;
    }
    if (tok.kind === "ID") {
      // `in listfunc(word)`: httpd's core provides no list-returning function.
      this.next();
      this.expect("(");
      this.word();
      this.expect(")");
      this.lookupFailed(`List-returning function '${tok.text}' does not exist`);
      return [];
    }
    this.unexpected("ID", "{");
  }

  private word(): Word {
    const a = this.wordPart();
    if (this.peek().kind !== "CONCAT") return a;
    this.next();
    const b = this.word();
    return { t: "concat", parts: [a, ...(b.t === "concat" ? b.parts : [b])] };
  }

  private wordPart(): Word {
    const tok = this.next();
    switch (tok.kind) {
      case "DIGIT":
        return { t: "str", v: tok.text!, digit: true };
      case "BACKREF":
        return { t: "backref", n: tok.n! };
      case "VAR_BEGIN":
        return this.variable();
      case "ID": {
        this.expect("(");
        const arg = this.word();
        this.expect(")");
        return this.func(tok.text!, arg);
      }
      case "STR_BEGIN": {
        this.scanError();
        if (this.peek().kind === "STR_END") {
          this.next();
          return { t: "str", v: "" };
        }
        const s = this.string("STR_END");
        this.expect("STR_END");
        return s;
      }
    }
    this.i--;
    this.unexpected();
  }

  /** The parts of a quoted word or a `%{func:...}` argument, up to `end`. */
  private string(end: TokenKind): Word {
    const parts: Word[] = [];
    while (this.peek().kind !== end) {
      const tok = this.next();
      if (tok.kind === "STRING") parts.push({ t: "str", v: toByteString(tok.text!) });
      else if (tok.kind === "BACKREF") parts.push({ t: "backref", n: tok.n! });
      else if (tok.kind === "VAR_BEGIN") parts.push(this.variable());
      else {
        this.i--;
        this.unexpected();
      }
    }
    if (parts.length === 0) this.unexpected();
    return parts.length === 1 ? parts[0]! : { t: "concat", parts };
  }

  private variable(): Word {
    const id = this.expect("ID").text!;
    if (this.peek().kind === "COLON") {
      this.next();
      this.scanError();
      const arg = this.string("VAR_END");
      this.expect("VAR_END");
      return this.func(id, arg);
    }
    this.expect("VAR_END", "COLON");
    const name = id.toUpperCase();
    if (!VARIABLES.has(name)) this.lookupFailed(`Variable '${id}' does not exist`);
    if (name === "REMOTE_USER") this.readsUser = true;
    return { t: "var", name };
  }

  private func(id: string, arg: Word): Word {
    const name = id.toLowerCase();
    if (name === "ldap") this.lookupFailed("Function 'ldap' is not supported by nodewsgi");
    else if (!FUNCTIONS.has(name)) this.lookupFailed(`Function '${id}' does not exist`);
    return { t: "func", name, arg };
  }

  /** -R and -ipmatch take a network as a constant quoted string, parsed once (subnet_parse_arg). */
  private subnetOf(op: string, w: Word): IpRule | undefined {
    if (w.t !== "str" || w.digit) {
      this.lookupFailed(`-${op} requires subnet/netmask as constant argument`);
      return undefined;
    }
    try {
      return parseIpRule(w.v);
    } catch {
      this.lookupFailed("parsing of subnet/netmask failed");
      return undefined;
    }
  }
}
