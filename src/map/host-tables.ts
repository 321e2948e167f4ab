/**
 * Everything the mapper precomputes for one (virtual) host when the configuration loads: the
 * engine's alias table, the section index, compiled rewrite rules, handler scripts. Built
 * once, read on every request.
 */
import type { AliasDirective, HandlerScript, HostConfig, RedirectDirective, RewriteConfig, RewriteMapDef, RewriteRule, ServerConfig } from "../config/model";
import { mergeServerRewrite, mergeServerRewriteMaps } from "../config/model";
import type { AliasTable, Engine } from "../engine/types";
import { toByteString } from "../engine/byte-string";
import { SectionIndex } from "./sections";
import { configuredName, serverAdmin, serverBanner, serverSignature, type ConfiguredName } from "./host";
import { RouteCache } from "./route-cache";
import { restrictsSymlinks } from "./symlinks";
import { compileRewrite, compileRewriteMaps, type CompiledRewrite } from "./rewrite";
import type { RewriteMap, RewriteMapSpec } from "./rewrite-map";

export class HostTables {
  readonly aliases: readonly AliasDirective[];
  /** Each alias's URL prefix and target as byte strings, by index (what the map phase joins). */
  readonly aliasBytes: readonly { readonly prefix: string; readonly target: string }[];
  readonly aliasTable: AliasTable;
  /** Server-level Redirect* directives, the virtual host's before the main server's. */
  readonly redirects: readonly RedirectDirective[];
  readonly sections: SectionIndex;
  /** Some section takes FollowSymLinks away: the directory walk must look at symbolic links. */
  readonly restrictsSymlinks: boolean;
  /**
   * The server-context rules, compiled when they can run: the server's RewriteEngine is on, or
   * some <Location> or early <If> may turn it on (sections.early).
   */
  readonly serverRewrite: CompiledRewrite | null;
  /** The server's own RewriteEngine (what decides when no early section sets one). */
  readonly serverRewriteOn: boolean;
  readonly handlerScripts: ReadonlyMap<string, HandlerScript>;
  readonly documentRoot: string;
  /**
   * ServerName's host name, without scheme or port (httpd's server_hostname): mod_wsgi's
   * %{RESOURCE} and %{SERVER} add the request's port to it unless that is 80 or 443.
   */
  readonly configuredName: string;
  /** ServerName's parts (configuredName), and UseCanonicalName outside any section (unset: Off). */
  readonly configured: ConfiguredName;
  readonly useCanonicalName: "on" | "off" | "dns" | undefined;
  /** ServerAdmin (the main server's when the host has none) and ServerTokens' banner. */
  readonly serverAdmin: string;
  readonly serverBanner: string;
  readonly maps: RewriteMapSpec[];
  /** Per-path results of the map phase's path-only steps (see route-cache.ts). */
  readonly routes = new RouteCache();
  /** By rule list, then directory and RewriteBase: <If> merges make a new RewriteConfig per request, not new rule lists (model.ts's inheritRules keeps one per pair). */
  private readonly perDirRewrite = new WeakMap<readonly RewriteRule[], Map<string, CompiledRewrite>>();
  private compiledMaps: ReadonlyMap<string, RewriteMap> | undefined;

  constructor(
    readonly config: ServerConfig,
    readonly host: HostConfig,
    engine: Engine,
  ) {
    const main = config.main;
    const inherits = host !== main;
    // A virtual host sees its own aliases first, then the main server's (httpd's merge).
    this.aliases = inherits ? [...host.aliases, ...main.aliases] : host.aliases;
    this.aliasBytes = this.aliases.map((a) => ({ prefix: toByteString(a.pattern), target: toByteString(a.target) }));
    this.redirects = inherits ? [...host.redirects, ...main.redirects] : host.redirects;
    this.aliasTable = engine.compileAliasTable(
      this.aliases.map((a) =>
        a.regex ? { kind: "regex" as const, pattern: a.pattern, target: a.target } : { kind: "prefix" as const, url: a.pattern, target: a.target },
      ),
    );
    this.sections = new SectionIndex(host, main);
    const allSections = [...(inherits ? main.sections : []), ...host.sections];
    this.restrictsSymlinks = restrictsSymlinks([
      main.dir,
      host.dir,
      ...allSections.flatMap((s) => [s.settings, ...s.files.map((f) => f.settings)]),
    ]);
    this.handlerScripts = new Map([...(inherits ? main.handlerScripts : []), ...host.handlerScripts]);
    // A byte string, like the URL-paths joined to it (engine/byte-string.ts).
    this.documentRoot = toByteString(stripTrailingSlash(host.documentRoot?.value ?? main.documentRoot?.value ?? "/var/www/html"));
    this.configured = configuredName(config, host);
    this.configuredName = this.configured.name;
    this.useCanonicalName = host.dir.useCanonicalName?.value ?? main.dir.useCanonicalName?.value;
    this.serverAdmin = serverAdmin(config, host);
    this.serverBanner = serverBanner(config.serverTokens);
    this.maps = (inherits ? mergeServerRewriteMaps(main, host) : [...host.rewriteMaps.values()]).map(mapSpec);
    const rw = inherits ? mergeServerRewrite(main.rewrite, host.rewrite) : host.rewrite;
    this.serverRewriteOn = rw.engine === true;
    this.serverRewrite =
      (rw.engine || this.sections.early) && rw.rules.length > 0
        ? compileRewrite(rw.rules, this.maps, { perDir: false, serverRoot: config.serverRoot, compiledMaps: this.rewriteMaps() })
        : null;
  }

  /** The last SERVER_SIGNATURE built, and what it was built from: most requests repeat it. */
  private signature = { mode: "off" as "on" | "off" | "email" | undefined, name: "", port: "", value: "" };

  /**
   * SERVER_SIGNATURE (ap_psignature with no prefix) for ServerSignature `mode` and the
   * request's SERVER_NAME/SERVER_PORT. Debian ships `ServerSignature On`: remembering the last
   * footer keeps its escaping and concatenation off the per-request path.
   */
  environSignature(mode: "on" | "off" | "email" | undefined, name: string, port: string): string {
    if (mode === undefined || mode === "off") return "";
    const last = this.signature;
    if (last.mode === mode && last.name === name && last.port === port) return last.value;
    const value = serverSignature(mode, "", this.serverBanner, name, port, this.serverAdmin);
    this.signature = { mode, name, port, value };
    return value;
  }

  /** The host's RewriteMaps, compiled on first use: one table for the server context and every directory. */
  private rewriteMaps(): ReadonlyMap<string, RewriteMap> {
    return (this.compiledMaps ??= compileRewriteMaps(this.maps, { serverRoot: this.config.serverRoot }, sharedMaps));
  }

  /** Per-directory rules (parsed with the configuration) put with the directory they apply to, on first use. */
  perDirRules(rewrite: RewriteConfig, directory: string): CompiledRewrite {
    let byDir = this.perDirRewrite.get(rewrite.rules);
    if (!byDir) {
      byDir = new Map();
      this.perDirRewrite.set(rewrite.rules, byDir);
    }
    const key = rewrite.base === undefined ? directory : `${directory}\0${rewrite.base}`;
    let compiled = byDir.get(key);
    if (!compiled) {
      compiled = compileRewrite(rewrite.rules, this.maps, {
        compiledMaps: this.rewriteMaps(),
        perDir: true,
        directory,
        ...(rewrite.base !== undefined ? { base: rewrite.base } : {}),
        serverRoot: this.config.serverRoot,
      });
      byDir.set(key, compiled);
    }
    return compiled;
  }
}

/**
 * Each RewriteMap definition's spec and compiled map, whichever host uses it: a virtual host
 * that inherits the main server's maps shares their txt caches (httpd keeps one per map too).
 */
const mapSpecs = new WeakMap<RewriteMapDef, RewriteMapSpec>();
const sharedMaps = new WeakMap<RewriteMapSpec, RewriteMap>();
function mapSpec(def: RewriteMapDef): RewriteMapSpec {
  let spec = mapSpecs.get(def);
  if (spec === undefined) {
    spec = { name: def.name, type: def.type as RewriteMapSpec["type"], source: def.source, where: def.where };
    mapSpecs.set(def, spec);
  }
  return spec;
}

function stripTrailingSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}
