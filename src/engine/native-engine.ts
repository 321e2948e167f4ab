/**
 * The native engine: a thin adapter from the Rust addon's raw exports (integers, offsets,
 * NUL-joined strings) to the Engine interface. Anything the addon cannot represent (a regex
 * Rust cannot run, a path that is not a byte string, a header holding a NUL) is answered by
 * the JS twin, so both engines always agree.
 */
import { assembleHeaderEnviron, memoiseEnvironKey } from "./header-environ";
import * as fs from "node:fs";
import * as path from "node:path";
import { NodewsgiError } from "../errors";
import { toByteString } from "./byte-string";
import { compileRegexRule, jsEngine, matchRegexRule, type JsRegexRule } from "./js-engine";
import { translateApacheRegex } from "./regex";
import { parseTemplate, type Template } from "./substitution";
import type { AliasHit, AliasRule, AliasTable, EncodedSlashes, Engine, NormalizedPath, ProxyList, ProxyOverrides } from "./types";

/** The addon's raw exports (see native/index.d.ts). */
interface Binding {
  NativeAliasTable: new (kinds: number[], sources: string[], prefixes: string[]) => { readonly rejected: number[] };
  NativeProxyList: new (entries: string[]) => { contains(address: string): boolean };
  findAlias(table: object, path: string, out: Int32Array): number;
  headerEnvironKey(name: string, passAuthorization: boolean): string | null;
  applyTrustedProxyHeaders(packed: string, count: number, remote: string, trusted: string[], proxies: object | null): string | null;
  normalizePath(raw: string, encodedSlashes: number): string;
  bodyVerdict(declaredLength: number, chunked: boolean, limit: number, acceptChunked: boolean): number;
}

/** Where the addon may be, most specific first: `nodewsgi.<platform>-<arch>[-<abi>].node`. */
export function addonCandidates(): string[] {
  if (process.env.NODEWSGI_NATIVE_ADDON) return [process.env.NODEWSGI_NATIVE_ADDON];
  const dir = path.resolve(__dirname, "..", "..", "native");
  const base = `${process.platform}-${process.arch}`;
  const abis = process.platform === "linux" ? ["-gnu", "-musl"] : process.platform === "win32" ? ["-msvc"] : [""];
  return abis.map((abi) => path.join(dir, `nodewsgi.${base}${abi}.node`));
}

function loadBinding(): Binding {
  const candidates = addonCandidates();
  const found = candidates.find((file) => fs.existsSync(file));
  if (found === undefined) {
    throw new NodewsgiError("E_ENGINE_UNAVAILABLE", `native addon not built (looked for ${candidates.join(", ")}; run npm run build:native)`);
  }
  try {
    return require(found) as Binding;
  } catch (err) {
    throw new NodewsgiError("E_ENGINE_UNAVAILABLE", `native addon ${found} failed to load: ${(err as Error).message}`, { cause: err });
  }
}

const PREFIX = 0, REGEX = 1, JS = 2;
const SLASH_MODES: Record<EncodedSlashes, number> = { off: 0, on: 1, nodecode: 2 };

class NativeAliasTable implements AliasTable {
  readonly size: number;
  readonly jsEvaluatedRules: readonly number[];
  private readonly handle: object;
  private readonly targets: string[];
  private readonly templates: (Template | null)[];
  private readonly jsRules: JsRegexRule[];
  private readonly out = new Int32Array(21);
  private fallback: AliasTable | null = null;

  constructor(private readonly binding: Binding, private readonly rules: readonly AliasRule[]) {
    this.size = rules.length;
    const kinds: number[] = [], sources: string[] = [], prefixes: string[] = [];
    const jsSources = new Map<number, string>();
    this.targets = [];
    this.templates = [];
    rules.forEach((rule, i) => {
      const target = toByteString(rule.target);
      this.targets.push(target);
      if (rule.kind === "prefix") {
        kinds.push(PREFIX); sources.push(toByteString(rule.url)); prefixes.push("");
        this.templates.push(null);
        return;
      }
      const t = translateApacheRegex(rule.pattern);
      jsSources.set(i, t.jsSource);
      kinds.push(t.rustSource === null ? JS : REGEX); sources.push(t.rustSource ?? ""); prefixes.push(t.literalPrefix);
      this.templates.push(parseTemplate(target));
    });
    const table = new binding.NativeAliasTable(kinds, sources, prefixes);
    for (const i of table.rejected) kinds[i] = JS;
    this.handle = table;
    this.jsRules = [];
    kinds.forEach((kind, i) => {
      const rule = rules[i];
      if (kind === JS && rule.kind === "regex") this.jsRules.push(compileRegexRule(i, rule.pattern, rule.target, jsSources.get(i)));
    });
    this.jsEvaluatedRules = this.jsRules.map((r) => r.index);
  }

  match(path: string): AliasHit | null {
    const index = this.binding.findAlias(this.handle, path, this.out);
    if (index === -2) {
      this.fallback ??= jsEngine.compileAliasTable(this.rules);
      return this.fallback.match(path);
    }
    // Rules Rust does not run, ahead of the native winner in configuration order.
    for (const rule of this.jsRules) {
      if (index >= 0 && rule.index > index) break;
      const hit = matchRegexRule(rule, path);
      if (hit) return hit;
    }
    if (index < 0) return null;
    const out = this.out;
    const matchedLength = out[0];
    const template = this.templates[index];
    if (template === null) return { index, target: this.targets[index] + path.slice(matchedLength), matchedLength };
    let target = "";
    for (const part of template) {
      if (typeof part === "string") target += part;
      else if (out[1 + 2 * part] >= 0) target += path.slice(out[1 + 2 * part], out[2 + 2 * part]);
    }
    return { index, target, matchedLength };
  }
}

class NativeProxyList implements ProxyList {
  constructor(readonly handle: { contains(address: string): boolean }) {}
  contains(address: string): boolean {
    return this.handle.contains(address);
  }
}

export function createNativeEngine(): Engine {
  const binding = loadBinding();
  // Header names are converted by Rust once each; see header-environ.ts.
  const environKey = memoiseEnvironKey((name, pass) => binding.headerEnvironKey(name, pass));
  return {
    name: "native",
    compileAliasTable: (rules) => new NativeAliasTable(binding, rules),
    headersToEnviron: (headers, options) => assembleHeaderEnviron(headers, options.passAuthorization, environKey),
    compileProxyList(entries) {
      try {
        return new NativeProxyList(new binding.NativeProxyList([...entries]));
      } catch (err) {
        throw new NodewsgiError("E_PROXY_LIST", (err as Error).message);
      }
    },
    applyTrustedProxyHeaders(environ, remoteAddress, trustedHeaders, proxies): ProxyOverrides {
      if (trustedHeaders.length === 0) return { set: [] };
      if (proxies !== null && !(proxies instanceof NativeProxyList)) {
        return jsEngine.applyTrustedProxyHeaders(environ, remoteAddress, trustedHeaders, proxies);
      }
      const packed = binding.applyTrustedProxyHeaders(
        environ.join("\0"), environ.length, remoteAddress, [...trustedHeaders], proxies === null ? null : proxies.handle,
      );
      if (packed === null) return jsEngine.applyTrustedProxyHeaders(environ, remoteAddress, trustedHeaders, proxies);
      const parts = packed.split("\0");
      const n = Number(parts[0]);
      environ.length = 0;
      for (let i = 1; i <= n; i++) environ.push(parts[i]);
      return { set: parts.slice(n + 1) };
    },
    normalizePath(rawPath, encodedSlashes): NormalizedPath {
      // Nothing to decode, merge or resolve: the path is already normal.
      if (rawPath.charCodeAt(0) === 0x2f && !/[%.]|\/\//.test(rawPath)) return { ok: true, path: rawPath };
      const result = binding.normalizePath(rawPath, SLASH_MODES[encodedSlashes]);
      const first = result.charCodeAt(0);
      if (first === 0x2f || result === "*") return { ok: true, path: result };
      return { ok: false, status: Number(result) as 400 | 404 };
    },
    bodyVerdict: (declaredLength, chunked, limit, acceptChunked) =>
      binding.bodyVerdict(declaredLength, chunked, limit, acceptChunked) as 0 | 411 | 413,
  };
}
