/**
 * Configuration regexes are Apache's (PCRE). We validate them with regexp-tree (so a bad one is
 * a config error with file and line) and translate the common PCRE-only spellings to
 * JavaScript: a leading `(?i)`, `(?P<name>`, `\A`, `\z`, `\Z`. Anything else PCRE-only
 * (possessive quantifiers, atomic groups, `\Q..\E`) is reported as unsupported.
 */
// regexp-tree ships no types we rely on: only parse() is used.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const regexpTree: { parse(re: string): unknown } = require("regexp-tree");

export interface ConfigRegex {
  /** The pattern exactly as written in the configuration. */
  readonly source: string;
  /** The JavaScript translation (no delimiters). */
  readonly jsSource: string;
  /** JavaScript flags: "" or "i". */
  readonly flags: string;
  readonly regexp: RegExp;
}

/** Compile an Apache regex; throws Error with a readable message when it is invalid. */
export function compileConfigRegex(source: string, caseInsensitive = false): ConfigRegex {
  let body = source;
  let flags = caseInsensitive ? "i" : "";
  if (body.startsWith("(?i)")) {
    body = body.slice(4);
    flags = "i";
  }
  let js = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "\\") {
      const e = body[i + 1];
      if (e === undefined) throw new Error(`bad regular expression '${source}': trailing backslash`);
      i++;
      if (e === "A") js += "^";
      else if (e === "z") js += "$(?![\\s\\S])";
      else if (e === "Z") js += "(?=\\n?$(?![\\s\\S]))";
      else if ("QEGKRhHXC".includes(e)) throw new Error(`regular expression '${source}' uses \\${e}, which nodewsgi does not support`);
      else js += "\\" + e;
      continue;
    }
    if (c === "(" && body.startsWith("(?P<", i)) {
      js += "(?<";
      i += 3;
      continue;
    }
    if (c === "(" && (body.startsWith("(?>", i) || /^\(\?[a-zA-Z-]+[:)]/.test(body.slice(i)))) {
      throw new Error(`regular expression '${source}' uses a PCRE group '${body.slice(i, i + 4)}...' that nodewsgi does not support`);
    }
    js += c === "/" ? "\\/" : c;
  }
  try {
    regexpTree.parse(`/${js}/${flags}`);
  } catch (e) {
    const last = String((e as Error).message).trim().split("\n").pop()!;
    const at = / at 1:(\d+)\.?$/.exec(last);
    // Column js.length + 1 is our closing delimiter: the pattern ended too early.
    const msg = at && Number(at[1]) >= js.length + 1 ? "unexpected end of pattern (unclosed group or class?)"
      : /Unexpected end of input/.test(last) ? "unexpected end of pattern (unclosed class or trailing backslash?)"
      : last.replace(/ at \d+:\d+\.?$/, "").replace(/^Unexpected token/, "unexpected token");
    throw new Error(`bad regular expression '${source}': ${msg}`);
  }
  const jsSource = js.replace(/\\\//g, "/");
  let regexp: RegExp;
  try {
    regexp = new RegExp(jsSource, flags);
  } catch (e) {
    throw new Error(`bad regular expression '${source}': ${(e as Error).message}`);
  }
  return { source, jsSource, flags, regexp };
}
