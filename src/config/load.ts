/**
 * Reading a configuration: Include/IncludeOptional, <IfModule>, <IfDefine>, Define and
 * `${VAR}`, sections and contexts, then each directive through the table's `apply`.
 * Errors are collected, not thrown one by one, so `configtest` can show them all.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, ConfigErrors, DirectiveProblem, type ConfigErrorCode, type Where } from "./errors";
import { DIRECTIVES, findDirective, isKnownModule, overrideAllows, overrideLabel, type ApplyScope, type Context, type DirectiveSpec } from "./directives";
import {
  emptyHost,
  IF_REWRITE_DIRECTORY,
  type AllowOverrideSetting,
  type AuthzContainer,
  type DirSettings,
  type HostConfig,
  type OverrideClass,
  type Section,
  type SectionKind,
  type ServerConfig,
  type VirtualHostAddress,
} from "./model";
import { parseText, splitRewriteWords, splitWsgiWords, type RawDirective, type RawNode, type RawSection } from "./parse";
import { compileConfigRegex, type ConfigRegex } from "./regex";
import { editDistance } from "./values";
import { nestedLimit, type MethodLimit } from "../auth/method-limit";
import { parseExpr, ExprError, type Expr } from "./expr";

export interface LoadOptions {
  /** `-D NAME` or `-D NAME=value` from the command line. */
  defines?: readonly string[];
  /** ServerRoot before any ServerRoot directive; default: the main file's directory. */
  serverRoot?: string;
}

interface Scope {
  readonly context: Context;
  readonly host: HostConfig;
  readonly dir: DirSettings;
  readonly section?: Section;
  readonly authz?: AuthzContainer;
  /** .htaccess only. */
  readonly allowOverride?: AllowOverrideSetting;
  readonly allowOverrideList?: readonly string[];
  /** Inside <Limit>/<LimitExcept>: the methods access directives apply to. */
  readonly methodLimit?: MethodLimit;
  /** .htaccess only: where its <Files> sections go. */
  readonly htaccessFiles?: Section[];
  /** Inside <If>/<ElseIf>/<Else>: the innermost one's name, for messages. */
  readonly ifKind?: "If" | "ElseIf" | "Else";
}

/**
 * The sections that select by path: not allowed inside <If> (httpd: "not allowed in <If>
 * context"). <Files> and <FilesMatch> are accepted there and have no effect, as in httpd.
 */
const SECTION_KINDS: ReadonlySet<string> = new Set(["Directory", "DirectoryMatch", "Location", "LocationMatch", "VirtualHost"]);

class Loader {
  readonly errors: ConfigError[] = [];
  private readonly includeStack: string[] = [];

  constructor(readonly config: ServerConfig) {}

  error(code: ConfigErrorCode, where: Where, directive: string, detail: string): void {
    this.errors.push(new ConfigError(code, where, directive, detail));
  }

  notice(where: Where, message: string): void {
    this.config.notices.push(`${where.file}:${where.line}: ${message}`);
  }

  loadFile(file: string, scope: Scope, via?: Where): void {
    const abs = path.resolve(file);
    if (this.includeStack.includes(abs)) {
      this.error("E_CONFIG_INCLUDE", via ?? { file: abs, line: 0 }, "Include", `recursive Include of ${abs}`);
      return;
    }
    let text: string;
    try {
      text = fs.readFileSync(abs, "utf8");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!via) throw err;
      this.error("E_CONFIG_INCLUDE", via, "Include", `could not open configuration file ${abs}: ${err.code ?? err.message}`);
      return;
    }
    this.config.files.push(abs);
    this.includeStack.push(abs);
    this.loadText(text, abs, scope);
    this.includeStack.pop();
  }

  loadText(text: string, file: string, scope: Scope): void {
    const parsed = parseText(text, file);
    this.errors.push(...parsed.errors);
    this.walk(parsed.nodes, scope);
  }

  walk(nodes: readonly RawNode[], scope: Scope): void {
    for (const node of nodes) {
      if (node.type === "section") this.section(node, scope);
      else this.directive(node, scope);
    }
  }

  /** `${NAME}` from Define/-D, else the environment, as httpd's ap_resolve_env. */
  private substitute(s: string, where: Where): string {
    if (!s.includes("${")) return s;
    return s.replace(/\$\{([A-Za-z_][\w.-]*)\}/g, (whole, name: string) => {
      const v = this.config.defines.get(name);
      if (v !== undefined && v !== "") return v;
      const env = process.env[name];
      if (env !== undefined) return env;
      this.notice(where, `config variable \${${name}} is not defined`);
      return whole;
    });
  }

  private section(node: RawSection, scope: Scope): void {
    const spec = findDirective(node.name);
    const tag = `<${spec?.name ?? node.name}>`;
    if (!spec || spec.kind !== "section") {
      this.unknown(node.where, `<${node.name}`);
      return;
    }
    const args = node.args.map((a) => this.substitute(a, node.where));
    if (scope.ifKind && SECTION_KINDS.has(spec.name)) {
      this.error("E_CONFIG_CONTEXT", node.where, tag, `${tag.slice(0, -1)} not allowed in <${scope.ifKind}> context`);
      return;
    }
    if (!this.contextAllows(spec, tag, node.where, scope)) return;
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      this.error("E_CONFIG_ARGS", node.where, tag, spec.minArgs > 0 && args.length === 0 ? `${tag} directive requires additional arguments` : `wrong number of arguments: ${spec.syntax}`);
      return;
    }
    switch (spec.name) {
      case "IfModule":
      case "IfDefine": {
        let cond = args[0]!;
        const neg = cond.startsWith("!");
        if (neg) cond = cond.slice(1);
        const present = spec.name === "IfModule" ? isKnownModule(cond) : this.config.defines.has(cond);
        if (present !== neg) this.walk(node.children, scope);
        return;
      }
      case "VirtualHost": {
        const host = emptyHost(node.where);
        for (const a of args) {
          const addr = parseVhostAddress(a);
          if (!addr) {
            this.error("E_CONFIG_VALUE", node.where, tag, `'${a}' is not addr[:port]`);
            return;
          }
          host.addresses.push(addr);
        }
        this.config.virtualHosts.push(host);
        this.walk(node.children, { context: "virtualhost", host, dir: host.dir });
        return;
      }
      case "Limit":
      case "LimitExcept": {
        if (scope.context === "htaccess" && !(scope.allowOverride?.classes ?? []).some((c) => c === "Limit" || c === "AuthConfig")) {
          this.error("E_CONFIG_CONTEXT", node.where, tag, "not allowed here (needs AllowOverride Limit or AuthConfig)");
          return;
        }
        let methodLimit: MethodLimit;
        try {
          methodLimit = nestedLimit(scope.methodLimit, args, spec.name === "LimitExcept", scope.context === "htaccess");
        } catch (e) {
          this.error("E_CONFIG_VALUE", node.where, tag, (e as Error).message);
          return;
        }
        this.walk(node.children, { ...scope, methodLimit });
        return;
      }
      case "If":
      case "ElseIf":
      case "Else":
        this.ifSection(spec.name, node, args, scope);
        return;
      case "RequireAll":
      case "RequireAny":
      case "RequireNone": {
        const container: AuthzContainer = { kind: spec.name === "RequireAll" ? "all" : spec.name === "RequireAny" ? "any" : "none", items: [], where: node.where };
        const parent = scope.authz ?? (scope.dir.authz ??= { kind: "any", items: [], where: node.where });
        parent.items.push(container);
        this.walk(node.children, { ...scope, authz: container });
        return;
      }
    }
    // Directory, DirectoryMatch, Location, LocationMatch, Files, FilesMatch
    const kind = spec.name as SectionKind;
    const isFiles = kind === "Files" || kind === "FilesMatch";
    if (scope.methodLimit) {
      this.error("E_CONFIG_CONTEXT", node.where, tag, `${tag} cannot occur within <Limit> or <LimitExcept> section`);
      return;
    }
    if (scope.section && !(isFiles && (scope.section.kind === "Directory" || scope.section.kind === "DirectoryMatch"))) {
      this.error("E_CONFIG_CONTEXT", node.where, tag, `${tag} cannot occur within <${scope.section.kind}> section`);
      return;
    }
    let isRegex = kind.endsWith("Match");
    let pattern = args[0]!;
    if (args.length === 2) {
      if (args[0] !== "~" || isRegex) {
        this.error("E_CONFIG_ARGS", node.where, tag, `takes one argument (or '~ regex'): ${spec.syntax}`);
        return;
      }
      isRegex = true;
      pattern = args[1]!;
    }
    let compiled: ConfigRegex | undefined;
    if (isRegex) {
      try {
        compiled = compileConfigRegex(pattern);
      } catch (e) {
        this.error("E_CONFIG_REGEX", node.where, tag, (e as Error).message);
        return;
      }
    } else if (kind === "Directory") {
      if (!path.isAbsolute(pattern)) pattern = path.join(this.config.serverRoot, pattern);
      if (!pattern.endsWith("/")) pattern += "/";
    }
    const sec: Section = {
      kind, isRegex, pattern, ...(compiled ? { compiled } : {}), hasWildcards: !isRegex && /[*?[]/.test(pattern),
      settings: {}, files: [], where: node.where,
    };
    if (scope.ifKind) {
      // httpd accepts it and never applies it (ap_if_walk merges no file sections): its lines
      // are still read, for their errors, and dropped.
      this.notice(node.where, `${tag} inside <${scope.ifKind}> has no effect (httpd accepts it and never applies it)`);
    } else if (scope.section) scope.section.files.push(sec);
    else if (scope.htaccessFiles) scope.htaccessFiles.push(sec);
    else scope.host.sections.push(sec);
    const context: Context = scope.context === "htaccess" ? "htaccess" : "directory";
    this.walk(node.children, { ...scope, context, dir: sec.settings, section: sec, authz: undefined, methodLimit: undefined, ifKind: undefined } as Scope);
  }

  /**
   * core.c's ifsection: the condition is parsed now; the section's settings are kept with it on
   * the enclosing scope (ap_add_if_conf), where an <ElseIf>/<Else> must follow an <If>/<ElseIf>.
   */
  private ifSection(kind: "If" | "ElseIf" | "Else", node: RawSection, args: string[], scope: Scope): void {
    const tag = `<${kind}>`;
    const fail = (code: ConfigErrorCode, detail: string) => this.error(code, node.where, tag, detail);
    if (scope.methodLimit) return fail("E_CONFIG_CONTEXT", `${tag} cannot occur within <Limit> or <LimitExcept> section`);
    if (scope.context === "htaccess" && (scope.allowOverride?.classes.length ?? 0) === 0) {
      return fail("E_CONFIG_CONTEXT", "not allowed here (needs AllowOverride of any class)");
    }
    let expr: Expr | undefined;
    if (kind === "Else") {
      if (args.length > 0) return fail("E_CONFIG_ARGS", "<Else> does not take an argument");
    } else {
      if (args.length === 0) return fail("E_CONFIG_ARGS", `${tag} directive requires additional arguments`);
      try {
        expr = parseExpr(args[0]!, node.where);
      } catch (e) {
        if (!(e instanceof ExprError)) throw e;
        return fail("E_CONFIG_VALUE", `Cannot parse condition clause: ${e.message}`);
      }
      if (args.length > 1) return fail("E_CONFIG_ARGS", `Multiple ${tag.slice(0, -1)}> arguments not supported.`);
    }
    const list = (scope.dir.ifSections ??= []);
    if (kind !== "If" && (list.length === 0 || list[list.length - 1]!.kind === "Else")) {
      return fail("E_CONFIG_SYNTAX", "<Else> or <ElseIf> section without previous <If> or <ElseIf> section in same scope");
    }
    const settings: DirSettings = {};
    const context: Context = scope.context === "htaccess" ? "htaccess" : "directory";
    this.walk(node.children, { ...scope, context, dir: settings, authz: undefined, methodLimit: undefined, ifKind: kind } as Scope);
    // httpd gives rewrite rules in an <If> the pseudo-directory `*If` as their per-directory prefix.
    if (settings.rewrite) settings.rewrite.directory = IF_REWRITE_DIRECTORY;
    const kindOfSection = scope.section?.kind;
    const early = scope.context !== "htaccess" && (kindOfSection === undefined || kindOfSection === "Location" || kindOfSection === "LocationMatch");
    list.push({ kind, ...(expr ? { expr } : {}), settings, where: node.where, ...(early ? { early: true as const } : {}) });
  }

  private unknown(where: Where, name: string): void {
    const bare = name.replace(/^</, "");
    let best: DirectiveSpec | undefined;
    let bestD = Infinity;
    for (const d of DIRECTIVES) {
      const dist = editDistance(bare, d.name);
      if (dist < bestD) {
        bestD = dist;
        best = d;
      }
    }
    const prefix = name.startsWith("<") ? "<" : "";
    const hint = best && bestD <= Math.max(2, Math.floor(bare.length / 4)) ? ` (did you mean ${prefix}${best.name}${prefix ? ">" : ""}?)` : "";
    this.error("E_CONFIG_UNKNOWN_DIRECTIVE", where, name,
      `Invalid command '${name}', perhaps misspelled or defined by a module not included in the server configuration${hint}`);
  }

  /**
   * httpd's ap_check_cmd_context plus the .htaccess AllowOverride check: true to apply the
   * directive, "void" to check its arguments only (it is accepted without effect), false when
   * refused (the error is recorded).
   */
  private contextAllows(spec: DirectiveSpec, name: string, where: Where, scope: Scope): boolean | "void" {
    const fail = (detail: string) => {
      this.error("E_CONFIG_CONTEXT", where, name, detail);
      return false;
    };
    const inSection = scope.ifKind ? `<${scope.ifKind}>` : scope.section ? `<${scope.section.kind}>` : "";
    if (!spec.contexts.includes(scope.context)) {
      if (scope.ifKind && (scope.context !== "htaccess" || spec.contexts.includes("directory"))) return fail(`not allowed in <${scope.ifKind}> context`);
      if (scope.context === "htaccess") return fail("not allowed here (not allowed in .htaccess files)");
      if (scope.context === "directory") return fail(`cannot occur within ${inSection} section`);
      if (scope.context === "virtualhost") return fail("cannot occur within <VirtualHost> section");
      return fail(`not allowed here (only inside ${spec.contexts.includes("virtualhost") ? "<VirtualHost>" : "<Directory>, <Location> or <Files>"})`);
    }
    if (spec.directoryOnly && scope.context === "directory" && (scope.ifKind !== undefined || scope.section?.kind !== "Directory" || scope.section.isRegex)) {
      // httpd accepts AllowOverride(List) in <Location>, <Files> and <If> with a warning
      // (AH00114, AH00115), and in <DirectoryMatch> or <Directory ~> without one: it checks the
      // arguments and the directive has no effect (.htaccess files are looked for only with
      // what the sections without regular expressions say). So does nodewsgi, with a notice.
      const regexDir = scope.ifKind === undefined && scope.section !== undefined && (scope.section.kind === "DirectoryMatch" || scope.section.kind === "Directory");
      const why = regexDir ? "httpd ignores it" : `httpd: ${name === "AllowOverrideList" ? "AH00115" : "AH00114"}: Useless use of ${name}`;
      const section = regexDir && scope.section!.kind === "Directory" ? "<Directory ~>" : inSection;
      this.notice(where, `${name} inside ${section} has no effect (${why}): only <Directory> sections without regular expressions set it`);
      return "void";
    }
    if (scope.context === "htaccess" && spec.kind === "directive") {
      const classes = scope.allowOverride?.classes ?? [];
      const listed = scope.allowOverrideList?.some((n) => n.toLowerCase() === spec.name.toLowerCase());
      if (!listed && !overrideAllows(spec.override, classes)) {
        return fail(spec.override ? `not allowed here (needs AllowOverride ${overrideLabel(spec.override)})` : "not allowed here (not allowed in .htaccess files)");
      }
    }
    return true;
  }

  private directive(node: RawDirective, scope: Scope): void {
    const spec = findDirective(node.name);
    if (!spec || spec.kind !== "directive") {
      this.unknown(node.where, node.name);
      return;
    }
    const name = spec.name;
    const allowed = this.contextAllows(spec, name, node.where, scope);
    if (allowed === false) return;
    let words: string[] | null = node.args;
    if (spec.wsgiWords) words = splitWsgiWords(node.rawArgs);
    else if (spec.rewriteWords) words = splitRewriteWords(node.rawArgs);
    if (!words) {
      this.error("E_CONFIG_SYNTAX", node.where, name, "unterminated quoted string");
      return;
    }
    const args = words.map((a) => this.substitute(a, node.where));
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      const want = spec.minArgs === spec.maxArgs ? `${spec.minArgs}` : spec.maxArgs === Infinity ? `at least ${spec.minArgs}` : `${spec.minArgs} to ${spec.maxArgs}`;
      this.error("E_CONFIG_ARGS", node.where, name, `takes ${want} argument${want === "1" ? "" : "s"}, got ${args.length} (syntax: ${spec.syntax})`);
      return;
    }
    if (name === "Include" || name === "IncludeOptional") {
      this.include(args[0]!, name === "IncludeOptional", node.where, scope);
      return;
    }
    const applyScope: ApplyScope = {
      config: this.config,
      host: scope.host,
      // A directive without effect here still has its arguments checked, into a scratch section.
      dir: allowed === "void" ? {} : scope.dir,
      context: scope.context,
      ...(scope.section ? { section: scope.section.kind } : {}),
      where: node.where,
      rawArgs: node.rawArgs,
      ...(scope.authz ? { authzContainer: scope.authz } : {}),
      ...(scope.methodLimit ? { methodLimit: scope.methodLimit } : {}),
      ...(scope.allowOverride?.options ? { allowedOptions: scope.allowOverride.options } : {}),
      notice: (m) => this.notice(node.where, m),
      serverRelative: (p) => path.resolve(this.config.serverRoot, p),
      targetPath: (p) => (path.isAbsolute(p) ? p : path.join(this.config.serverRoot, p)),
    };
    try {
      spec.apply?.(applyScope, args);
    } catch (e) {
      if (e instanceof DirectiveProblem) this.error(e.code, node.where, name, e.message);
      else throw e;
    }
  }

  private include(pattern: string, optional: boolean, where: Where, scope: Scope): void {
    const abs = path.resolve(this.config.serverRoot, pattern);
    let files: string[];
    try {
      files = expandInclude(abs, optional);
    } catch (e) {
      this.error("E_CONFIG_INCLUDE", where, optional ? "IncludeOptional" : "Include", (e as Error).message);
      return;
    }
    for (const f of files) this.loadFile(f, scope, where);
  }
}

/** Include's argument to files: wildcards (`*`, `?`, `[...]`) in any component, directories recursively, sorted. */
function expandInclude(abs: string, optional: boolean): string[] {
  const parts = abs.split(path.sep).filter((p, i) => p !== "" || i === 0);
  let candidates = [parts[0] === "" ? path.sep : parts[0]!];
  const hasWild = /[*?[]/.test(abs);
  for (const part of parts.slice(1)) {
    const next: string[] = [];
    for (const base of candidates) {
      if (!/[*?[]/.test(part)) {
        next.push(path.join(base, part));
        continue;
      }
      let entries: string[];
      try {
        entries = fs.readdirSync(base);
      } catch {
        continue;
      }
      const re = fnmatchRegex(part);
      for (const e of entries.sort()) if (!e.startsWith(".") && re.test(e)) next.push(path.join(base, e));
    }
    candidates = next;
  }
  const out: string[] = [];
  for (const c of candidates) {
    let st: fs.Stats;
    try {
      st = fs.statSync(c);
    } catch {
      if (hasWild || optional) continue;
      throw new Error(`could not open configuration file ${c}: No such file or directory`);
    }
    if (st.isDirectory()) out.push(...listDir(c));
    else out.push(c);
  }
  if (!out.length && hasWild && !optional) throw new Error(`No matches for the wildcard '${path.basename(abs)}' in '${path.dirname(abs)}', failing (use IncludeOptional for optional files)`);
  return out;
}

function listDir(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (fs.statSync(p).isDirectory()) out.push(...listDir(p));
    else out.push(p);
  }
  return out;
}

function fnmatchRegex(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += "[" + glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\") + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

function parseVhostAddress(s: string): VirtualHostAddress | null {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(s);
  if (!m) return null;
  const host = m[1]!.replace(/^\[|\]$/g, "");
  const port = m[2] === undefined ? undefined : m[2] === "*" ? "*" : Number(m[2]);
  if (typeof port === "number" && (port < 1 || port > 65535)) return null;
  return { host, ...(port !== undefined ? { port } : {}) };
}

function newConfig(mainFile: string, options: LoadOptions): ServerConfig {
  const defines = new Map<string, string>();
  for (const d of options.defines ?? []) {
    const i = d.indexOf("=");
    if (i < 0) defines.set(d, "");
    else defines.set(d.slice(0, i), d.slice(i + 1));
  }
  return {
    files: [],
    serverRoot: path.resolve(options.serverRoot ?? path.dirname(path.resolve(mainFile))),
    defines,
    listen: [],
    logLevel: "warn",
    moduleLogLevels: new Map(),
    daemonProcesses: new Map(),
    importScripts: [],
    restrictEmbedded: false,
    main: emptyHost(),
    virtualHosts: [],
    notices: [],
  };
}

/** Checks that need the whole configuration: references to daemon groups, dangling RewriteCond. */
function finish(loader: Loader): void {
  const config = loader.config;
  const groups = config.daemonProcesses;
  const checkGroup = (g: string | undefined, where: Where, what: string) => {
    if (g !== undefined && !g.includes("%{") && !groups.has(g)) {
      loader.notice(where, `${what}: no WSGIDaemonProcess called '${g}' is defined; requests for it will get 500`);
    }
  };
  const checkDir = (d: DirSettings) => {
    checkGroup(d.processGroup?.value, d.processGroup?.where ?? { file: "", line: 0 }, "WSGIProcessGroup");
    checkPending(d);
  };
  const checkPending = (d: DirSettings): void => {
    const pending = d.rewrite?.pendingConditions ?? [];
    if (pending.length) loader.notice(pending[0]!.where, "RewriteCond: not followed by a RewriteRule; ignored");
    for (const i of d.ifSections ?? []) checkPending(i.settings);
  };
  for (const host of [config.main, ...config.virtualHosts]) {
    for (const a of host.aliases) checkGroup(a.options.processGroup, a.where, a.kind);
    for (const h of host.handlerScripts.values()) checkGroup(h.options.processGroup, h.where, "WSGIHandlerScript");
    if (host.rewrite.pendingConditions.length) loader.notice(host.rewrite.pendingConditions[0]!.where, "RewriteCond: not followed by a RewriteRule; ignored");
    checkDir(host.dir);
    const walk = (secs: Section[]) => {
      for (const s of secs) {
        checkDir(s.settings);
        walk(s.files);
      }
    };
    walk(host.sections);
    const dr = host.documentRoot;
    if (dr && !isDirectory(dr.value)) loader.notice(dr.where, `DocumentRoot '${dr.value}' does not exist or is not a directory`);
  }
  for (const s of config.importScripts) checkGroup(s.processGroup, s.where, "WSGIImportScript");
}

/** In reading order: by file (main file first), then line. */
function sortErrors(errors: ConfigError[], files: readonly string[]): ConfigError[] {
  const rank = (f: string) => {
    const i = files.indexOf(f);
    return i < 0 ? files.length : i;
  };
  return errors.map((e, i) => ({ e, i })).sort((a, b) => rank(a.e.file) - rank(b.e.file) || a.e.line - b.e.line || a.i - b.i).map((x) => x.e);
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function done(loader: Loader): ServerConfig {
  finish(loader);
  if (loader.errors.length) throw new ConfigErrors(sortErrors(loader.errors, loader.config.files));
  return loader.config;
}

/**
 * Load the configuration file at `file` and everything it includes. Throws ConfigErrors with
 * every error found (each a ConfigError with code, file, line and directive); a main file that
 * cannot be read throws the fs error.
 */
export function loadConfig(file: string, options: LoadOptions = {}): ServerConfig {
  const loader = new Loader(newConfig(file, options));
  loader.loadFile(file, { context: "server", host: loader.config.main, dir: loader.config.main.dir });
  return done(loader);
}

/** Load configuration text as if it were the file `fileName` (for tests and tools). */
export function parseConfigText(text: string, fileName = "nodewsgi.conf", options: LoadOptions = {}): ServerConfig {
  const loader = new Loader(newConfig(fileName, options));
  loader.config.files.push(fileName);
  loader.loadText(text, fileName, { context: "server", host: loader.config.main, dir: loader.config.main.dir });
  return done(loader);
}

export interface HtaccessResult {
  settings: DirSettings;
  /** <Files>/<FilesMatch> sections in the file. */
  files: Section[];
  /** httpd answers 500 for a request whose .htaccess has errors. */
  errors: ConfigError[];
  notices: string[];
}

/**
 * Parse an .htaccess file's text into DirSettings, honouring the AllowOverride (and
 * AllowOverrideList) in force for its directory. Never throws for configuration problems.
 */
export function parseHtaccess(
  text: string,
  file: string,
  allow: { allowOverride?: AllowOverrideSetting | readonly OverrideClass[]; allowOverrideList?: readonly string[] },
  serverRoot = path.dirname(file),
): HtaccessResult {
  const config = newConfig(file, { serverRoot });
  const loader = new Loader(config);
  const settings: DirSettings = {};
  const files: Section[] = [];
  const ao = allow.allowOverride;
  const allowOverride: AllowOverrideSetting | undefined = ao === undefined ? undefined
    : Array.isArray(ao) ? { classes: [...(ao as readonly OverrideClass[])], nonfatal: [], where: { file, line: 0 } }
    : (ao as AllowOverrideSetting);
  try {
    loader.loadText(text, file, {
      context: "htaccess", host: config.main, dir: settings, htaccessFiles: files,
      ...(allowOverride ? { allowOverride } : {}),
      ...(allow.allowOverrideList ? { allowOverrideList: allow.allowOverrideList } : {}),
    });
  } catch (e) {
    loader.errors.push(new ConfigError("E_CONFIG_SYNTAX", { file, line: 0 }, "", (e as Error).message));
  }
  return { settings, files, errors: sortErrors(loader.errors, [file]), notices: config.notices };
}
