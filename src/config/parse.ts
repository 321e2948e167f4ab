/**
 * The Apache configuration syntax: logical lines (with `\` continuation), `#` comment lines,
 * directives with words split and unquoted as httpd's ap_getword_conf does, and `<Section>`
 * blocks. This produces a raw tree; meaning (Include, IfModule, contexts, values) is given by
 * load.ts and the directive table.
 */
import { ConfigError, type Where } from "./errors";

export interface RawDirective {
  readonly type: "directive";
  /** As written (directive names are case-insensitive). */
  readonly name: string;
  readonly args: string[];
  /** The argument text before word splitting, for directives with their own option syntax. */
  readonly rawArgs: string;
  readonly where: Where;
}

export interface RawSection {
  readonly type: "section";
  /** As written, without `<`. */
  readonly name: string;
  readonly args: string[];
  readonly rawArgs: string;
  readonly children: RawNode[];
  readonly where: Where;
}

export type RawNode = RawDirective | RawSection;

export interface ParsedText {
  nodes: RawNode[];
  errors: ConfigError[];
}

/**
 * Split argument text into words the way httpd does: whitespace separates words; a word that
 * starts with `"` or `'` runs to the matching quote, inside which `\<quote>` stands for the
 * quote; `\\` stands for `\` everywhere; any other backslash is kept (regexes need it).
 * Returns null for an unterminated quote (httpd silently takes the rest of the line; we refuse).
 */
export function splitWords(text: string): string[] | null {
  const words: string[] = [];
  let i = 0;
  const n = text.length;
  while (true) {
    while (i < n && isSpace(text[i]!)) i++;
    if (i >= n) return words;
    const q = text[i]!;
    if (q === '"' || q === "'") {
      let j = i + 1;
      while (j < n && text[j] !== q) j += text[j] === "\\" && text[j + 1] === q ? 2 : 1;
      if (j >= n) return null;
      words.push(unescape(text.slice(i + 1, j), q));
      i = j + 1;
    } else {
      let j = i;
      while (j < n && !isSpace(text[j]!)) j++;
      words.push(unescape(text.slice(i, j), ""));
      i = j;
    }
  }
}

function unescape(s: string, quote: string): string {
  if (!s.includes("\\")) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const next = s[i + 1];
    if (c === "\\" && (next === "\\" || (quote !== "" && next === quote))) {
      out += next;
      i++;
    } else out += c;
  }
  return out;
}

function isSpace(c: string): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n" || c === "\f" || c === "\v";
}

interface LogicalLine {
  text: string;
  line: number;
}

/** Physical lines joined on a trailing backslash; blank and `#` lines dropped. */
function logicalLines(text: string): LogicalLine[] {
  const physical = text.split("\n");
  const out: LogicalLine[] = [];
  let buf = "";
  let start = 0;
  for (let i = 0; i < physical.length; i++) {
    let l = physical[i]!.replace(/[ \t\r\f\v]+$/, "");
    if (buf === "") start = i + 1;
    if (l.endsWith("\\") && i + 1 < physical.length) {
      // httpd joins the next line in place of the backslash.
      buf += l.slice(0, -1);
      continue;
    }
    if (l.endsWith("\\")) l = l.slice(0, -1);
    const whole = (buf + l).trim();
    buf = "";
    if (whole === "" || whole.startsWith("#")) continue;
    out.push({ text: whole, line: start });
  }
  return out;
}

/** Parse configuration text into a raw tree, collecting syntax errors rather than stopping. */
export function parseText(text: string, file: string): ParsedText {
  const errors: ConfigError[] = [];
  const root: RawNode[] = [];
  const stack: { section: RawSection | null; children: RawNode[] }[] = [{ section: null, children: root }];
  const syntax = (where: Where, directive: string, msg: string) =>
    errors.push(new ConfigError("E_CONFIG_SYNTAX", where, directive, msg));

  for (const { text: t, line } of logicalLines(text.replace(/^\uFEFF/, ""))) {
    const where = { file, line };
    const top = stack[stack.length - 1]!;
    if (t.startsWith("</")) {
      const m = /^<\/\s*([^\s>]*)\s*>$/.exec(t);
      const name = m ? m[1]! : t.slice(2).replace(/>.*$/, "").trim();
      if (!m) {
        syntax(where, `</${name}>`, "closing tag must be written </Name>");
        continue;
      }
      if (!top.section) {
        syntax(where, `</${name}>`, `</${name}> without matching <${name}> section`);
        continue;
      }
      if (top.section.name.toLowerCase() !== name.toLowerCase()) {
        syntax(where, `</${name}>`, `Expected </${top.section.name}> but saw </${name}>`);
        // Recover: close up to the section of that name if one is open, else treat it as a
        // misspelt close of the innermost section, so one typo does not cascade.
        const idx = findOpen(stack, name);
        stack.length = idx > 0 ? idx : stack.length - 1;
        continue;
      }
      stack.pop();
      continue;
    }
    if (t.startsWith("<")) {
      const m = /^<([^\s>]+)(.*)$/.exec(t)!;
      const name = m[1]!;
      let rest = m[2]!.trim();
      if (!rest.endsWith(">")) {
        syntax(where, `<${name}>`, `<${name}> directive missing closing '>'`);
        continue;
      }
      rest = rest.slice(0, -1).trim();
      const args = splitWords(rest);
      if (!args) {
        syntax(where, `<${name}>`, "unterminated quoted string");
        continue;
      }
      const section: RawSection = { type: "section", name, args, rawArgs: rest, children: [], where };
      top.children.push(section);
      stack.push({ section, children: section.children });
      continue;
    }
    const sp = /^(\S+)\s*(.*)$/.exec(t)!;
    const name = sp[1]!;
    const rawArgs = sp[2]!;
    // httpd's ap_getword_conf takes an unterminated quote to the end of the line; we refuse
    // that except for ErrorDocument, whose `ErrorDocument 403 "message` idiom is documented.
    const args = splitWords(rawArgs) ?? (name.toLowerCase() === "errordocument" ? splitWords(rawArgs + '"') : null);
    if (!args) {
      syntax(where, name, "unterminated quoted string");
      continue;
    }
    top.children.push({ type: "directive", name, args, rawArgs, where });
  }
  for (let i = stack.length - 1; i > 0; i--) {
    const s = stack[i]!.section!;
    syntax(s.where, `<${s.name}>`, `<${s.name}> was not closed (missing </${s.name}> before the end of ${file})`);
  }
  return { nodes: root, errors };
}

function findOpen(stack: { section: RawSection | null }[], name: string): number {
  for (let i = stack.length - 1; i > 0; i--) if (stack[i]!.section!.name.toLowerCase() === name.toLowerCase()) return i;
  return -1;
}

/**
 * mod_rewrite's own argument syntax for RewriteRule and RewriteCond (parseargline): up to three
 * words; a word may be quoted with `"` or `'` (no escapes inside: the next such quote ends it);
 * `\<space>` keeps a space inside an unquoted word, and the backslash stays for the regex or
 * the expansion to read. Nothing else is unescaped (`\\` stays two backslashes, unlike httpd's
 * ap_getword_conf). Text after a third word is ignored, as httpd ignores it.
 */
export function splitRewriteWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = text.length;
  while (words.length < 3) {
    while (i < n && isSpace(text[i]!)) i++;
    if (i >= n) break;
    const quote = text[i] === '"' || text[i] === "'" ? text[i++]! : "";
    let j = i;
    for (; j < n; j++) {
      const c = text[j]!;
      if ((quote === "" && isSpace(c)) || c === quote) break;
      if (c === "\\" && j + 1 < n && isSpace(text[j + 1]!)) j++;
    }
    words.push(text.slice(i, j));
    i = j + 1;
  }
  return words;
}

/**
 * mod_wsgi's option syntax, `name=value` where the value may be quoted (`python-path="/a b"`):
 * unlike httpd's word splitting, a quote may start after the `=`.
 */
export function splitWsgiWords(text: string): string[] | null {
  const words: string[] = [];
  let i = 0;
  const n = text.length;
  while (true) {
    while (i < n && isSpace(text[i]!)) i++;
    if (i >= n) return words;
    let word = "";
    let j = i;
    while (j < n && !isSpace(text[j]!)) {
      const c = text[j]!;
      if ((c === '"' || c === "'") && (j === i || text[j - 1] === "=")) {
        let k = j + 1;
        while (k < n && text[k] !== c) k += text[k] === "\\" && text[k + 1] === c ? 2 : 1;
        if (k >= n) return null;
        word += unescape(text.slice(j + 1, k), c);
        j = k + 1;
        continue;
      }
      word += c;
      j++;
    }
    words.push(word);
    i = j;
  }
}
