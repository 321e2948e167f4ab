/**
 * RewriteRule and RewriteCond lines, parsed once when the configuration (or an .htaccess file)
 * is read: the flag field (mod_rewrite's parser, ./rewrite-flags.ts, plus what nodewsgi
 * refuses on top of httpd), the pattern compiled (src/config/regex.ts, as every configuration
 * regex), `RewriteCond expr` parsed, literals turned into the byte strings requests are matched
 * as. The result is what the configuration model keeps and what src/map/rewrite.ts runs: the
 * compile step only attaches a directory, a RewriteBase and the maps.
 *
 * Errors are DirectiveProblem with mod_rewrite's wording; the loader prefixes file, line and
 * directive, and compileRewriteRules (rewrite.ts) does the same for rules given as text.
 */
import { badValue, DirectiveProblem, type Where } from "./errors";
import { compileConfigRegex, type ConfigRegex } from "./regex";
import { ExprError, parseExpr, type Expr } from "./expr";
import { parseInteger } from "./values";
import { toByteString } from "../engine/byte-string";
import { defaultRuleFlags, setRuleFlag, splitFlagField, type CondFlags, type RuleFlags } from "./rewrite-flags";

export type { CondFlags, RuleFlags } from "./rewrite-flags";

/**
 * What a RewriteCond tests, spelled as its operator: a regex, a file test (`-h` and `-L` are
 * `-l`), a string comparison, an integer comparison (`-ne` is `-eq` negated), or an expression.
 */
export type RewriteCondTest =
  | "regex" | "-f" | "-s" | "-l" | "-d" | "-x" | "-U" | "-F"
  | "<" | "<=" | "=" | ">" | ">="
  | "-lt" | "-le" | "-eq" | "-gt" | "-ge" | "expr";

export interface RewriteCondition {
  /** The TestString as a byte string ("" for `expr`): it is expanded against byte strings. */
  readonly testString: string;
  readonly test: RewriteCondTest;
  /** The operand: the regex as written, or the text after the operator as a byte string. */
  readonly pattern: string;
  /** A leading `!` (or `-ne`): the condition holds when the test fails. */
  readonly negated: boolean;
  /** test "regex": the pattern, compiled with NC's case folding. */
  readonly compiled?: ConfigRegex;
  /** test "expr": the expression. */
  readonly expr?: Expr;
  /** NC only where it means something (regex and string comparisons), as mod_rewrite. */
  readonly flags: CondFlags;
  readonly where: Where;
}

export interface RewriteRule {
  /** As written, without a leading `!`. */
  readonly pattern: string;
  readonly negated: boolean;
  readonly compiled: ConfigRegex;
  /** The substitution as written. */
  readonly substitution: string;
  /** The substitution as mod_rewrite keeps it: a byte string, a trailing `?` that set QSNONE removed. */
  readonly output: string;
  /** E= and CO= values are byte strings (back-references expanded into them are). */
  readonly flags: RuleFlags;
  /** The RewriteCond lines directly before this rule. */
  readonly conditions: readonly RewriteCondition[];
  readonly where: Where;
}

function compile(pattern: string, nocase: boolean): ConfigRegex {
  try {
    return compileConfigRegex(pattern, nocase);
  } catch (e) {
    throw new DirectiveProblem("E_CONFIG_REGEX", (e as Error).message);
  }
}

/**
 * The third argument's items; `[FLAG,...]` with both brackets. One bracket missing is
 * mod_rewrite's "bad flag delimiters"; none at all nodewsgi's own wording (it always refused it).
 */
function flagItems(field: string): Array<[string, string]> {
  if (!field.startsWith("[") && !field.endsWith("]")) throw badValue(`flags '${field}' must be written [FLAG,FLAG=value,...]`);
  try {
    return splitFlagField(field);
  } catch (e) {
    throw badValue((e as Error).message);
  }
}

/**
 * What nodewsgi refuses among the flags httpd takes: [P] (no mod_proxy), D... flags other than DPI,
 * E=/H=/T= without
 * a value (httpd accepts them and does nothing), S= that is not a count, R= that httpd would
 * read as status 0 or by its leading digits, R= with a known code outside 3xx-5xx.
 */
function refuseRuleFlag(f: RuleFlags, key: string, val: string): void {
  if (f.proxy) throw new DirectiveProblem("E_CONFIG_UNSUPPORTED", "the [P] (proxy) flag is not supported by nodewsgi");
  const k = key.toLowerCase();
  // httpd ignores any other D... flag; nodewsgi accepts nothing without effect.
  if (k[0] === "d" && k !== "d" && k !== "dpi" && k !== "discardpath") throw badValue(`unknown flag '${key}'`);
  if ((k === "e" || k === "env") && val === "") throw badValue("E= needs variable[:value]");
  if ((k === "h" || k === "handler") && val === "") throw badValue("H= needs a handler name");
  if ((k === "t" || k === "type") && val === "") throw badValue("T= needs a media type");
  if (k === "s" || k === "skip") f.skip = parseInteger(val, "S= count", 1);
  if ((k === "r" || k === "redirect") && val !== "" && !["permanent", "temp", "seeother", "gone"].includes(val.toLowerCase())) {
    if (!/^\d{3}$/.test(val)) parseInteger(val, "R= status", 300, 599);
    else if (f.status < 300 || f.status >= 600) throw badValue(`redirect status ${val} must be 3xx, 4xx or 5xx`);
  }
}

/** A RewriteRule's flag field (`[L,R=301]`, or undefined): httpd's flags and nodewsgi's refusals. */
export function parseRuleFlagField(field: string | undefined): RuleFlags {
  const f = defaultRuleFlags();
  if (field === undefined) return f;
  for (const [key, val] of flagItems(field)) {
    const err = setRuleFlag(f, key, val);
    if (err) throw badValue(err);
    refuseRuleFlag(f, key, val);
  }
  return f;
}

/** A RewriteCond's flag field: NC, OR, NV (any case, long or short). */
export function parseCondFlagField(field: string | undefined): CondFlags {
  const f: CondFlags = { nocase: false, ornext: false, novary: false };
  if (field === undefined) return f;
  for (const [key] of flagItems(field)) {
    const k = key.toLowerCase();
    if (k === "nc" || k === "nocase") f.nocase = true;
    else if (k === "or" || k === "ornext") f.ornext = true;
    else if (k === "nv" || k === "novary") f.novary = true;
    else throw badValue(`unknown flag '${key}' (NC, OR, NV)`);
  }
  return f;
}

const FILE_TESTS: Record<string, RewriteCondTest> = { f: "-f", s: "-s", d: "-d", x: "-x", h: "-l", L: "-l", l: "-l", U: "-U", F: "-F" };
const INT_TESTS: Record<string, RewriteCondTest> = { lt: "-lt", le: "-le", gt: "-gt", ge: "-ge", eq: "-eq", ne: "-eq" };

/** `RewriteCond TestString CondPattern [flags]`, classified as mod_rewrite's cmd_rewritecond does. */
export function parseRewriteCond(testString: string, condPattern: string, flagField: string | undefined, where: Where): RewriteCondition {
  let flags = parseCondFlagField(flagField);
  let a2 = condPattern;
  let negated = false;
  if (a2.startsWith("!")) {
    negated = true;
    a2 = a2.slice(1);
  }
  if (testString.toLowerCase() === "expr") {
    let expr: Expr;
    try {
      expr = parseExpr(a2, where);
    } catch (e) {
      if (!(e instanceof ExprError)) throw e;
      throw badValue(`cannot compile expression "${a2}" ${e.message}`);
    }
    return { testString: "", test: "expr", pattern: a2, negated, expr, flags: { ...flags, nocase: false }, where };
  }
  let test: RewriteCondTest = "regex";
  if (a2.length >= 2) {
    if (a2[0] === "-") {
      if (a2.length === 2) test = FILE_TESTS[a2[1]!] ?? "regex";
      else if (a2.length >= 4) {
        const op = a2.slice(1, 3);
        const t = INT_TESTS[op];
        if (t) {
          test = t;
          if (op === "ne") negated = !negated; // !-ne is -eq
          a2 = a2.slice(3);
        }
      }
    } else if (a2[0] === ">" || a2[0] === "<") {
      const orEqual = a2[1] === "=";
      test = a2[0] === ">" ? (orEqual ? ">=" : ">") : orEqual ? "<=" : "<";
      a2 = a2.slice(orEqual ? 2 : 1);
    } else if (a2[0] === "=") {
      test = "=";
      a2 = a2.slice(1);
      if (a2 === '""') a2 = "";
    }
  }
  // Apache ignores NC (with a warning) where it means nothing.
  const comparesText = test === "regex" || test === "<" || test === "<=" || test === "=" || test === ">" || test === ">=";
  if (!comparesText) flags = { ...flags, nocase: false };
  // Subjects are byte strings (the URL-path, headers, map values): literal text is compared as
  // its UTF-8 octets, as httpd compares bytes. The regex translation does the same for patterns.
  const cond = { testString: toByteString(testString), test, negated, flags, where };
  return test === "regex" ? { ...cond, pattern: a2, compiled: compile(a2, flags.nocase) } : { ...cond, pattern: toByteString(a2) };
}

/** `RewriteRule Pattern Substitution [flags]` with the conditions read before it. */
export function parseRewriteRule(
  pattern: string,
  substitution: string,
  flagField: string | undefined,
  conditions: readonly RewriteCondition[],
  where: Where,
): RewriteRule {
  const flags = parseRuleFlagField(flagField);
  flags.env = flags.env.map(toByteString);
  flags.cookies = flags.cookies.map(toByteString);
  const negated = pattern.startsWith("!");
  const p = negated ? pattern.slice(1) : pattern;
  const compiled = compile(p, flags.nocase);
  // A byte string like the URL-path it replaces: `/café` becomes `/caf%c3%a9` in a redirect.
  let output = toByteString(substitution);
  if (output === "") throw badValue("bad argument line: at least two arguments required");
  if (output === "-") flags.noSub = true;
  if (output.endsWith("?")) {
    // A literal trailing `?`: with QSA split at the last `?`, otherwise drop the query.
    if (flags.qsAppend) flags.qsLast = true;
    else {
      flags.qsNone = true;
      output = output.slice(0, -1);
    }
  } else if (flags.qsDiscard && !output.includes("?")) {
    flags.qsNone = true;
  }
  return { pattern: p, negated, compiled, substitution, output, flags, conditions, where };
}
