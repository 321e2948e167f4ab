/**
 * Every regular expression in the configuration (AliasMatch and WSGIScriptAliasMatch, the
 * *Match sections, RewriteRule and RewriteCond, SetEnvIf, Header edit, ...) is Apache's PCRE
 * syntax, and all of them go through one translation, src/engine/regex.ts, so a pattern means
 * the same wherever it is written: `.` matches a newline and `$` only the end (Apache's
 * defaults), `\d \w \s` and case folding are ASCII, subjects are byte strings. A pattern
 * JavaScript cannot express is an error here, with the pattern and the reason.
 */
import { translateApacheRegex } from "../engine/regex";

export interface ConfigRegex {
  /** The pattern exactly as written in the configuration. */
  readonly source: string;
  /** The JavaScript translation (no delimiters). */
  readonly jsSource: string;
  /** JavaScript flags: always "s" (Apache compiles with DOTALL); case folding is in the source. */
  readonly flags: string;
  readonly regexp: RegExp;
}

/** Compile an Apache regex; throws Error with a readable message when it is invalid. */
export function compileConfigRegex(source: string, caseInsensitive = false): ConfigRegex {
  let translated;
  try {
    // A leading (?i) is how the translation spells "ignore ASCII case" for the whole pattern.
    translated = translateApacheRegex(caseInsensitive && !source.startsWith("(?i)") ? "(?i)" + source : source);
  } catch (err) {
    throw new Error(`bad regular expression '${source}': ${(err as Error).message.replace(/^invalid regular expression "(?:[^"\\]|\\.)*": /, "")}`);
  }
  return { source, jsSource: translated.jsSource, flags: "s", regexp: new RegExp(translated.jsSource, "s") };
}
