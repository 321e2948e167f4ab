/**
 * RewriteMap: `txt:` and `rnd:` files (re-read when their mtime changes, as mod_rewrite's
 * per-child cache does) and the `int:` functions toupper, tolower, escape, unescape.
 * `prg:`, `dbm:` and `dbd:` maps are refused at configuration time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { escapeUriPath, unescapeUrl } from "./rewrite-escape";

export interface RewriteMapSpec {
  readonly name: string;
  /** Map type; when omitted, `source` carries it as Apache writes it (`txt:/path`, `int:tolower`). */
  readonly type?: "txt" | "int" | "rnd" | "prg" | "dbm";
  /** The file (txt/rnd), the function name (int), or the whole `type:source` argument. */
  readonly source: string;
  readonly where?: { readonly file: string; readonly line: number };
}

export interface RewriteMap {
  readonly name: string;
  /** The value for `key`, or null when there is none (then `${map:key|default}` uses the default). */
  lookup(key: string): string | null;
}

const INT_FUNCS: Record<string, (key: string) => string> = {
  toupper: (k) => k.replace(/[a-z]+/g, (s) => s.toUpperCase()),
  tolower: (k) => k.replace(/[A-Z]+/g, (s) => s.toLowerCase()),
  escape: (k) => escapeUriPath(k),
  unescape: (k) => unescapeUrl(k),
};

/** Parse a txt map file: first line with the key wins; lines without a value are skipped. */
export function parseTxtMap(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line[0] === "#" || /\s/.test(line[0]!)) continue;
    const m = /^(\S+)\s+(\S+)/.exec(line);
    if (!m || out.has(m[1]!)) continue;
    out.set(m[1]!, m[2]!);
  }
  return out;
}

class TxtMap implements RewriteMap {
  private mtimeMs = -1;
  private entries = new Map<string, string>();
  constructor(
    readonly name: string,
    private readonly file: string,
    private readonly random: boolean,
    private readonly pick: (n: number) => number,
  ) {}

  lookup(key: string): string | null {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      return null; // Apache logs "can't access text RewriteMap file" and finds nothing
    }
    if (st.mtimeMs !== this.mtimeMs) {
      try {
        this.entries = parseTxtMap(fs.readFileSync(this.file, "latin1"));
        this.mtimeMs = st.mtimeMs;
      } catch {
        return null;
      }
    }
    let value = this.entries.get(key) ?? "";
    if (this.random && value !== "") {
      const parts = value.split("|");
      value = parts[this.pick(parts.length)] ?? "";
    }
    return value === "" ? null : value;
  }
}

export interface CompileMapOptions {
  /** Relative map files are taken from here (Apache's ServerRoot). Default: process.cwd(). */
  readonly serverRoot?: string;
  /** For tests of rnd: maps: returns an index in [0, n). Default: Math.random. */
  readonly random?: (n: number) => number;
}

/** Compile one map; throws Error with Apache's wording on a bad map. */
export function compileRewriteMap(spec: RewriteMapSpec, options: CompileMapOptions = {}): RewriteMap {
  let type: string = spec.type ?? "";
  let source = spec.source;
  if (!type) {
    const m = /^(txt|rnd|int|prg|dbm|dbd|fastdbd)(?:=[^:]*)?:/i.exec(source);
    if (m) {
      type = m[1]!.toLowerCase();
      source = source.slice(m[0].length);
    } else {
      type = "txt"; // Apache: an argument without a known prefix is a txt map file
    }
  }
  const pick = options.random ?? ((n: number) => Math.floor(Math.random() * n));
  switch (type) {
    case "int": {
      const fn = INT_FUNCS[source];
      if (!fn) throw new Error(`RewriteMap: internal map not found:${source}`);
      return { name: spec.name, lookup: (key) => fn(key) };
    }
    case "txt":
    case "rnd": {
      const file = path.resolve(options.serverRoot ?? process.cwd(), source);
      if (!fs.existsSync(file)) {
        throw new Error(`RewriteMap: file for map ${spec.name} not found:${file}`);
      }
      return new TxtMap(spec.name, file, type === "rnd", pick);
    }
    default:
      throw new Error(`RewriteMap: map type ${type}: is not supported by nodewsgi`);
  }
}
