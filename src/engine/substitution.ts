/**
 * `ap_pregsub`: AliasMatch targets with `$0`..`$9` replaced by the groups of the match
 * (a group that did not take part, or matched nothing, gives ""), `\X` giving a literal X.
 * Parsed once per rule, applied per request.
 */
export type Template = readonly (string | number)[];

export function parseTemplate(target: string): Template {
  const parts: (string | number)[] = [];
  let literal = "";
  for (let i = 0; i < target.length; i++) {
    const c = target[i];
    const next = target.charCodeAt(i + 1);
    if (c === "$" && next >= 0x30 && next <= 0x39) {
      if (literal) parts.push(literal);
      literal = "";
      parts.push(next - 0x30);
      i++;
    } else if (c === "\\" && i + 1 < target.length) {
      literal += target[++i];
    } else {
      literal += c;
    }
  }
  if (literal) parts.push(literal);
  return parts;
}

/** Fills the template; `group(n)` returns group n's text or "" . */
export function applyTemplate(template: Template, group: (n: number) => string): string {
  let out = "";
  for (const part of template) out += typeof part === "number" ? group(part) : part;
  return out;
}
