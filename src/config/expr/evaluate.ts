/**
 * Evaluating a parsed ap_expr for one request, as util_expr_eval.c does: words are byte
 * strings; `-eq` and friends compare apr_atoi64 values, `==` and friends bytes; `=~` with a
 * capturing group leaves $0..$9 for the rest of the expression; reading a request header
 * (HTTP_USER_AGENT, req(), http()) other than Host names it for the response's Vary.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { fsPath } from "../../engine/byte-string";
import { ipMatches, type IpRule } from "../../auth/ip";
import { escapeUri } from "../../map/uri-escape";
import type { Cond, Expr, StringExpr, Word } from "./parser";
import { fnmatch } from "../fnmatch";

/** What an expression can read of a request; the map phase provides it. */
export interface ExprRequest {
  /** A variable of parser.ts's VARIABLES (upper-case); undefined reads as "". */
  variable(name: string): string | undefined;
  /** A request header (the first of that name). */
  header(name: string): string | undefined;
  /** A response header (resp()), where there is a response; "" elsewhere. */
  responseHeader?(name: string): string | undefined;
  /** A request variable (SetEnv, SetEnvIf, rewrite E=). */
  reqenv(name: string): string | undefined;
  /** The client address, for -R. */
  readonly remoteAddress: string;
  /** RewriteCond -U's subrequest status for a URL-path (and -F's for a file), when available. */
  lookupUri?(uri: string): number;
  lookupFile?(file: string): number;
  /** Called with a header name the answer depended on (for Vary). */
  vary?(header: string): void;
}

/** httpd logs an evaluation error and takes the expression as false (<If>) or an error (Require). */
export class ExprEvalError extends Error {}

interface Ctx {
  readonly r: ExprRequest;
  match: RegExpExecArray | null;
  depth: number;
}

/** AP_EXPR_MAX_RECURSION: httpd counts nested word and condition evaluations. */
const MAX_RECURSION = 20;

/** Evaluate `expr` for a request. Throws ExprEvalError as httpd's evaluation fails (file(), recursion). */
export function evaluateExpr(expr: Expr, r: ExprRequest): boolean {
  return cond({ r, match: null, depth: 0 }, expr.root);
}

/** The value of a string-valued expression. Throws ExprEvalError as evaluateExpr does. */
export function evaluateString(expr: StringExpr, r: ExprRequest): string {
  return word({ r, match: null, depth: 0 }, expr.word);
}

/** evaluateExpr, with the last match of a regex that has a capturing group (ap_expr_exec_re's $0..$9). */
export function evaluateExprMatch(expr: Expr, r: ExprRequest): { value: boolean; match: RegExpExecArray | null } {
  const ctx: Ctx = { r, match: null, depth: 0 };
  const value = cond(ctx, expr.root);
  return { value, match: ctx.match };
}

function enter(ctx: Ctx): void {
  if (++ctx.depth > MAX_RECURSION) throw new ExprEvalError("Recursion limit reached");
}

function cond(ctx: Ctx, c: Cond): boolean {
  enter(ctx);
  try {
    switch (c.t) {
      case "const":
        return c.v;
      case "not":
        return !cond(ctx, c.e);
      case "and":
        return cond(ctx, c.a) && cond(ctx, c.b);
      case "or":
        return cond(ctx, c.a) || cond(ctx, c.b);
      case "cmp": {
        const a = word(ctx, c.a);
        const b = word(ctx, c.b);
        switch (c.op) {
          case "EQ": return intCompare(a, b) === 0;
          case "NE": return intCompare(a, b) !== 0;
          case "LT": return intCompare(a, b) < 0;
          case "LE": return intCompare(a, b) <= 0;
          case "GT": return intCompare(a, b) > 0;
          case "GE": return intCompare(a, b) >= 0;
          case "STR_EQ": return a === b;
          case "STR_NE": return a !== b;
          case "STR_LT": return a < b;
          case "STR_LE": return a <= b;
          case "STR_GT": return a > b;
          case "STR_GE": return a >= b;
        }
        return false;
      }
      case "in": {
        const needle = word(ctx, c.a);
        return c.list.some((w) => word(ctx, w) === needle);
      }
      case "regex": {
        const subject = word(ctx, c.a);
        const m = c.re.exec(subject);
        if (c.groups) ctx.match = m;
        return (m !== null) !== c.negate;
      }
      case "unary":
        return unary(ctx, c.op, word(ctx, c.a), c.subnet);
      case "binary": {
        const a = word(ctx, c.a);
        const b = word(ctx, c.b);
        switch (c.op) {
          case "ipmatch": return isAddress(a) && ipMatches(c.subnet!, a);
          case "fnmatch": return fnmatch(b, a, { pathname: true });
          case "strmatch": return fnmatch(b, a);
          case "strcmatch": return fnmatch(b, a, { caseBlind: true });
        }
        return false;
      }
    }
  } finally {
    ctx.depth--;
  }
}

function word(ctx: Ctx, w: Word): string {
  enter(ctx);
  try {
    switch (w.t) {
      case "str":
        return w.v;
      case "var":
        if (w.name.startsWith("HTTP_") && w.name !== "HTTP_HOST" && w.name !== "HTTP2") ctx.r.vary?.(VAR_HEADERS[w.name] ?? "");
        return ctx.r.variable(w.name) ?? "";
      case "backref":
        return ctx.match?.[w.n] ?? "";
      case "concat":
        return w.parts.map((p) => word(ctx, p)).join("");
      case "func":
        return func(ctx, w.name, word(ctx, w.arg));
    }
  } finally {
    ctx.depth--;
  }
}

const VAR_HEADERS: Record<string, string> = {
  HTTP_USER_AGENT: "User-Agent", HTTP_PROXY_CONNECTION: "Proxy-Connection", HTTP_REFERER: "Referer", HTTP_COOKIE: "Cookie",
  HTTP_FORWARDED: "Forwarded", HTTP_ACCEPT: "Accept",
};

/** The largest file file() reads, as httpd's MAX_FILE_SIZE. */
const MAX_FILE_SIZE = 10 * 1024 * 1024;

function func(ctx: Ctx, name: string, arg: string): string {
  const r = ctx.r;
  switch (name) {
    case "req":
    case "http":
      if (arg.toLowerCase() !== "host") r.vary?.(arg);
      return r.header(arg) ?? "";
    case "req_novary":
      return r.header(arg) ?? "";
    case "reqenv":
      return r.reqenv(arg) ?? "";
    case "env":
      return r.reqenv(arg) ?? osenv(arg);
    case "osenv":
      return osenv(arg);
    case "resp":
      return r.responseHeader?.(arg) ?? "";
    // Nothing has set a note when an expression is evaluated here.
    case "note":
      return "";
    case "tolower":
      return arg.replace(/[A-Z]+/g, (s) => s.toLowerCase());
    case "toupper":
      return arg.replace(/[a-z]+/g, (s) => s.toUpperCase());
    case "escape":
      return escapeUri(arg);
    case "unescape":
      return unescape(arg);
    case "base64":
      return Buffer.from(arg, "latin1").toString("base64");
    case "unbase64":
      return unbase64(arg);
    case "md5":
      return crypto.createHash("md5").update(Buffer.from(arg, "latin1")).digest("hex");
    case "sha1":
      return crypto.createHash("sha1").update(Buffer.from(arg, "latin1")).digest("hex");
    case "file":
      return readFile(arg);
    case "filesize": {
      const st = statOf(arg, false);
      return st && st.isFile() && st.size > 0 ? String(st.size) : "0";
    }
  }
  return "";
}

function osenv(name: string): string {
  const v = process.env[name];
  return v === undefined ? "" : Buffer.from(v, "utf8").toString("latin1");
}

/** ap_unescape_url_keep2f(s, 0): `%2F` stays; a bad escape or a `%00` gives "". */
function unescape(s: string): string {
  if (!s.includes("%")) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "%") {
      out += s[i];
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return "";
    const v = parseInt(hex, 16);
    if (v === 0) return "";
    out += v === 0x2f ? s.slice(i, i + 3) : String.fromCharCode(v);
    i += 2;
  }
  return out;
}

/** apr_base64_decode: stops at the first character outside the alphabet. */
function unbase64(s: string): string {
  const m = /^[A-Za-z0-9+/]*/.exec(s)![0];
  return Buffer.from(m, "base64").toString("latin1").replace(/\0[\s\S]*$/, "");
}

function readFile(p: string): string {
  let fd: number;
  try {
    fd = fs.openSync(fsPath(p), "r");
  } catch {
    throw new ExprEvalError(`Cannot open file ${p}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size > MAX_FILE_SIZE) throw new ExprEvalError(`File ${p} too large`);
    const buf = Buffer.alloc(size);
    const n = size === 0 ? 0 : fs.readSync(fd, buf, 0, size, 0);
    // The result is a C string: it ends at the first NUL.
    return buf.subarray(0, n).toString("latin1").replace(/\0[\s\S]*$/, "");
  } catch (e) {
    if (e instanceof ExprEvalError) throw e;
    throw new ExprEvalError(`Cannot read from file ${p}`);
  } finally {
    fs.closeSync(fd);
  }
}

function statOf(p: string, link: boolean): fs.Stats | undefined {
  try {
    return (link ? fs.lstatSync : fs.statSync)(fsPath(p), { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function unary(ctx: Ctx, op: string, a: string, subnet: IpRule | undefined): boolean {
  switch (op) {
    case "n":
      return a !== "";
    case "z":
      return a === "";
    case "R":
      return ipMatches(subnet!, ctx.r.remoteAddress);
    case "T":
      return isTrue(a);
    case "d":
    case "e":
    case "f":
    case "s": {
      const st = statOf(a, false);
      if (!st) return false;
      return op === "e" || (op === "d" ? st.isDirectory() : st.isFile() && (op === "f" || st.size > 0));
    }
    case "L":
    case "h":
      return statOf(a, true)?.isSymbolicLink() ?? false;
    case "x":
      // APR_FINFO_LINK: the link itself, as httpd asks.
      return ((statOf(a, true)?.mode ?? 0) & 0o111) !== 0;
    case "U":
    case "A":
      return ctx.r.lookupUri !== undefined && ctx.r.lookupUri(a) < 400;
    case "F":
      return ctx.r.lookupFile !== undefined && ctx.r.lookupFile(a) < 300 && statOf(a, false) !== undefined;
  }
  return false;
}

/** op_T: false for "", "0", and off/no/false in any case. */
function isTrue(a: string): boolean {
  if (a === "" || a === "0") return false;
  const l = a.toLowerCase();
  return l !== "off" && l !== "no" && l !== "false";
}

/** apr_atoi64 on both sides (strtoll: leading space, a sign, digits; 0 when there are none), compared. */
function intCompare(a: string, b: string): number {
  const x = atoi64(a);
  const y = atoi64(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
function atoi64(s: string): bigint {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(s);
  if (!m) return 0n;
  let v = BigInt(m[2]!);
  if (m[1] === "-") v = -v;
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : v;
}

function isAddress(s: string): boolean {
  return /^[0-9.]+$/.test(s) || s.includes(":");
}

