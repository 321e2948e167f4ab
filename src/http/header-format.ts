/**
 * mod_headers' value formats: literal text (with `\n`, `\r`, `\t`, `\\` escapes) and the tags
 * `%D` `%t` `%{VAR}e` `%{VAR}s` `%l` `%i` `%b` `%%`. Parsed once, at configuration time, so that
 * an unknown tag is a configuration error as in httpd ("Unrecognized header format %X").
 */
import { loadavg } from "node:os";

export type FormatPart = string | { readonly tag: string; readonly arg: string };

export interface FormatContext {
  readonly env: ReadonlyMap<string, string>;
  /** Request start, in µs since the epoch. */
  readonly startMicros: number;
}

const TAGS = "Dteslib";

/** Parse a value; a string (the message) when it uses a tag mod_headers does not know. */
export function parseHeaderFormat(value: string): FormatPart[] | string {
  const parts: FormatPart[] = [];
  let i = 0;
  while (i < value.length) {
    if (value[i] !== "%") {
      let text = "";
      while (i < value.length && value[i] !== "%") {
        const c = value[i]!;
        if (c === "\\" && i + 1 < value.length) {
          const e = value[i + 1]!;
          const sub = e === "\\" ? "\\" : e === "r" ? "\r" : e === "n" ? "\n" : e === "t" ? "\t" : null;
          if (sub !== null) {
            text += sub;
            i += 2;
            continue;
          }
        }
        text += c;
        i++;
      }
      parts.push(text);
      continue;
    }
    i++;
    // `%%`, and a `%` at the end, are a literal `%`.
    if (i >= value.length || value[i] === "%") {
      parts.push("%");
      if (i < value.length) i++;
      continue;
    }
    let arg = "";
    if (value[i] === "{") {
      const end = value.indexOf("}", i);
      arg = end < 0 ? value.slice(i + 1) : value.slice(i + 1, end);
      i = end < 0 ? value.length : end + 1;
    }
    const tag = value[i++] ?? "";
    if (tag === "" || !TAGS.includes(tag)) return `Unrecognized header format %${tag}`;
    parts.push({ tag, arg });
  }
  return parts;
}

/** The value of a parsed format for one request. */
export function formatHeaderValue(parts: readonly FormatPart[], ctx: FormatContext): string {
  if (parts.length === 1 && typeof parts[0] === "string") return parts[0];
  let out = "";
  for (const p of parts) out += typeof p === "string" ? p : tagValue(p.tag, p.arg, ctx);
  return out;
}

function tagValue(tag: string, arg: string, ctx: FormatContext): string {
  switch (tag) {
    case "D":
      return `D=${Math.max(0, Math.round(Date.now() * 1000 - ctx.startMicros))}`;
    case "t":
      return `t=${Math.round(ctx.startMicros)}`;
    case "e": {
      // A variable's line breaks become spaces, as mod_headers' unwrap_header does.
      const v = ctx.env.get(arg);
      return v === undefined ? "(null)" : v.replace(/[\r\n]/g, " ");
    }
    case "l": {
      const [a, b, c] = loadavg();
      return `l=${a!.toFixed(2)}/${b!.toFixed(2)}/${c!.toFixed(2)}`;
    }
    // httpd's idle and busy worker percentages: nodewsgi has no fixed pool of worker slots.
    case "i":
      return "i=100";
    case "b":
      return "b=0";
    default:
      // %{VAR}s: SSL variables; "(null)" as httpd without mod_ssl.
      return "(null)";
  }
}
