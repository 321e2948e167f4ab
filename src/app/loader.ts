/**
 * Loading application scripts: mod_wsgi's "script file as a module", for JavaScript.
 *
 * Format rule (whatever the extension: `.wsgi`, `.py`, `.js`, none):
 * - `.mjs` is ESM and `.cjs` is CommonJS, always.
 * - Anything else is compiled as CommonJS first. If that compile fails with a SyntaxError and
 *   the source has an `import`/`export` statement or `import.meta` at the start of a line, it
 *   is loaded as ESM instead (through a file URL answered by ./esm-hooks, so relative imports
 *   work); otherwise the CommonJS SyntaxError is the load error.
 *
 * Every load makes a new module instance: CommonJS scripts get their own `Module` object that
 * never enters `require.cache`, ESM scripts a URL with a unique query. So two application
 * groups in one isolate never share the script's own state, and a reload re-runs the script.
 * Modules the script itself requires are cached by Node as usual (as in mod_wsgi, where only
 * the script is reloaded). ESM instances are never freed by Node: each reload of an ESM script
 * keeps the old instance in memory.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as vm from "node:vm";
import Module from "node:module";
import { pathToFileURL } from "node:url";
import { NodewsgiError } from "../errors";
import { fsPath, textOf } from "../engine/byte-string";
import { MARKER } from "./esm-hooks";
import type { Server as NetServer } from "node:net";
import { withListenCapture } from "./adapters/listen-capture";
import { loadApplicationShape, parseApplicationType, type ApplicationType } from "./adapters/detect";

/** The gateway interface's callable: `(environ, start_response) => result`. */
export type WsgiApplication = (environ: Record<string, unknown>, startResponse: (...args: any[]) => unknown) => unknown;

export interface LoadedScript {
  /** The script's path as text (the module's `__filename`). */
  readonly filename: string;
  readonly format: "commonjs" | "esm";
  /** The script file's mtime (ms) when it was read. */
  readonly mtimeMs: number;
  /** `module.exports` (CommonJS) or the module namespace (ESM). */
  readonly exports: unknown;
  /** A server the script called listen() on while loading (captured, no port bound). */
  readonly listenServer?: NetServer | null;
}

/** The parts of node:module's internals a per-load CommonJS instance needs. */
interface InternalModule {
  filename: string;
  paths: string[];
  loaded: boolean;
  exports: unknown;
  _compile(content: string, filename: string): unknown;
}
interface InternalModuleStatics {
  new (id: string, parent?: unknown): InternalModule;
  _nodeModulePaths(dir: string): string[];
}

const ESM_SYNTAX = /^[ \t]*(?:import[ \t]*[\w{*"'`]|export[ \t]+|export[ \t]*[{*]|.*\bimport\.meta\b)/m;
const CJS_PARAMS = ["exports", "require", "module", "__filename", "__dirname"];

/**
 * Read and run a script file as a fresh module. A listen() the script makes on an HTTP server
 * while it loads binds nothing and is recorded as `listenServer` (./adapters/listen-capture).
 * `filename` is a byte string (engine/byte-string.ts), as are ScriptCache's keys.
 * Errors: E_SCRIPT_NOT_FOUND, E_SCRIPT_LOAD.
 */
export async function loadScript(filename: string): Promise<LoadedScript> {
  const { value, server } = await withListenCapture(() => loadScriptModule(filename));
  return server ? { ...value, listenServer: server } : value;
}

/**
 * `file` is a byte string, as the map phase names scripts (engine/byte-string.ts): read through
 * fsPath, and known to the module system and to messages by its text.
 */
async function loadScriptModule(file: string): Promise<LoadedScript> {
  const filename = textOf(file);
  let source: string;
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(fsPath(file)).mtimeMs;
    source = fs.readFileSync(fsPath(file), "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new NodewsgiError("E_SCRIPT_NOT_FOUND", `Target WSGI script not found or unable to stat: ${filename}`, { cause: err });
    }
    throw loadError(filename, err);
  }
  const ext = path.extname(filename).toLowerCase();
  if (ext === ".mjs") return { filename, format: "esm", mtimeMs, exports: await importEsm(filename) };
  if (ext !== ".cjs") {
    const syntax = cjsSyntaxError(source, filename);
    if (syntax) {
      if (!ESM_SYNTAX.test(source)) throw loadError(filename, syntax);
      return { filename, format: "esm", mtimeMs, exports: await importEsm(filename) };
    }
  }
  return { filename, format: "commonjs", mtimeMs, exports: runCommonJs(source, filename) };
}

/**
 * The named callable of a loaded script. `export default` may hold an object with that name,
 * or (for `application` only) be the function itself; likewise `module.exports = fn`.
 * Methods are bound to the object that holds them. Error: E_CALLABLE_NOT_FOUND.
 */
export function findCallable(script: LoadedScript, name: string): WsgiApplication {
  const ns = script.exports as Record<string, unknown> | ((...a: unknown[]) => unknown) | null | undefined;
  if (ns != null) {
    const direct = (ns as Record<string, unknown>)[name];
    if (typeof direct === "function") return direct.bind(ns) as WsgiApplication;
    if (typeof ns === "function" && name === "application") return ns as WsgiApplication;
    const dflt = (ns as Record<string, unknown>).default as Record<string, unknown> | undefined;
    if (dflt != null && script.format === "esm") {
      const inner = dflt[name];
      if (typeof inner === "function") return inner.bind(dflt) as WsgiApplication;
      if (typeof dflt === "function" && name === "application") return dflt as unknown as WsgiApplication;
    }
  }
  throw new NodewsgiError(
    "E_CALLABLE_NOT_FOUND",
    `Target WSGI script '${script.filename}' does not contain WSGI application '${name}'.`,
  );
}

function loadError(filename: string, err: unknown): NodewsgiError {
  const e = new NodewsgiError("E_SCRIPT_LOAD", `Target WSGI script '${filename}' cannot be loaded as JavaScript module.`, { cause: err });
  // Keep the script's own stack first: it is what the administrator needs in the log.
  if (err instanceof Error && err.stack) e.stack = `${e.name}: ${e.message}\nCaused by: ${err.stack}`;
  return e;
}

/** A compile-only check: a SyntaxError here means nothing of the script ran. */
function cjsSyntaxError(source: string, filename: string): SyntaxError | null {
  try {
    vm.compileFunction(stripHashbang(source), CJS_PARAMS, { filename });
    return null;
  } catch (err) {
    if (err instanceof SyntaxError) return err;
    throw loadError(filename, err);
  }
}

function stripHashbang(source: string): string {
  return source.startsWith("#!") ? "//" + source.slice(2) : source;
}

function runCommonJs(source: string, filename: string): unknown {
  const M = Module as unknown as InternalModuleStatics;
  const m = new M(filename);
  m.filename = filename;
  m.paths = M._nodeModulePaths(path.dirname(filename));
  try {
    // _compile strips a BOM/hashbang, gives the script `require` relative to itself and
    // supports dynamic import(); the module is deliberately not put in require.cache.
    m._compile(source, filename);
  } catch (err) {
    throw loadError(filename, err);
  }
  m.loaded = true;
  return m.exports;
}

let loadSeq = 0;
let hooksRegistered = false;
// TypeScript's CommonJS output rewrites import() into require(); keep a real dynamic import.
const dynamicImport = new Function("u", "return import(u)") as (url: string) => Promise<unknown>;

async function importEsm(filename: string): Promise<unknown> {
  if (!hooksRegistered) {
    // Hooks are per thread: each worker hosting a group registers its own.
    Module.register(pathToFileURL(path.join(__dirname, "esm-hooks.js")));
    hooksRegistered = true;
  }
  const url = `${pathToFileURL(filename).href}?${MARKER}${process.pid}.${++loadSeq}`;
  try {
    return await dynamicImport(url);
  } catch (err) {
    throw loadError(filename, err);
  }
}

export interface ScriptCacheOptions {
  /** WSGIScriptReloading (default true): reload when the file's mtime differs, earlier or later. */
  readonly reloading?: boolean;
  /**
   * What the scripts export (./adapters/detect): "auto" (default) detects WSGI callables,
   * fetch handlers and Node listeners. Defaults to $NODEWSGI_APPLICATION_TYPE when set, so a
   * CLI flag reaches worker threads and daemon processes through the environment.
   */
  readonly applicationType?: ApplicationType;
}

interface CacheEntry {
  mtimeMs: number;
  script: Promise<LoadedScript>;
  /** Resolved callables by name (a pending lookup is shared by concurrent requests). */
  callables: Map<string, WsgiApplication | Promise<WsgiApplication>>;
}

/**
 * The scripts loaded into one application group. A script is loaded once per group and
 * loaded again when its mtime changes (any difference counts, as in mod_wsgi). A failed load
 * is not remembered: the next request tries again, as mod_wsgi does.
 */
export class ScriptCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly reloading: boolean;
  private readonly applicationType: ApplicationType;

  constructor(readonly group: string, options: ScriptCacheOptions = {}) {
    this.reloading = options.reloading ?? true;
    const fromEnv = process.env.NODEWSGI_APPLICATION_TYPE;
    this.applicationType = options.applicationType ?? (fromEnv ? parseApplicationType(fromEnv) : "auto");
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The script, loading it if needed. `mtimeMs` may be given when the caller has just stat'ed
   * the file (the map phase does); otherwise the file is stat'ed here when reloading is on.
   */
  load(filename: string, mtimeMs?: number): Promise<LoadedScript> {
    return this.entry(filename, mtimeMs).script;
  }

  /** The named callable of the script (E_SCRIPT_NOT_FOUND, E_SCRIPT_LOAD, E_CALLABLE_NOT_FOUND). */
  async getCallable(filename: string, name = "application", mtimeMs?: number): Promise<WsgiApplication> {
    const entry = this.entry(filename, mtimeMs);
    const cached = entry.callables.get(name);
    if (cached) return cached;
    const lookup = entry.script.then((script) => loadApplicationShape(script, name, this.applicationType).application);
    entry.callables.set(name, lookup);
    lookup.then(
      (fn) => entry.callables.set(name, fn),
      () => entry.callables.delete(name),
    );
    return lookup;
  }

  /**
   * The callable when it is loaded and still current, else undefined (then use getCallable):
   * lets a request run in the turn it arrived in, without waiting for a promise.
   */
  ready(filename: string, name = "application", mtimeMs?: number): WsgiApplication | undefined {
    const entry = this.entries.get(filename);
    if (entry === undefined) return undefined;
    if (this.reloading && (mtimeMs ?? currentMtime(filename)) !== entry.mtimeMs) return undefined;
    const fn = entry.callables.get(name);
    return typeof fn === "function" ? fn : undefined;
  }

  /** Forget a script (the next request loads it afresh). */
  forget(filename: string): void {
    this.entries.delete(filename);
  }

  private entry(filename: string, mtimeMs?: number): CacheEntry {
    let entry = this.entries.get(filename);
    if (entry && this.reloading) {
      const now = mtimeMs ?? currentMtime(filename);
      if (now !== entry.mtimeMs) entry = undefined;
    }
    if (!entry) {
      const fresh: CacheEntry = { mtimeMs: mtimeMs ?? currentMtime(filename), script: loadScript(filename), callables: new Map() };
      fresh.script.then(
        (s) => {
          // Record the mtime actually read, so a write during the load triggers a reload.
          if (this.entries.get(filename) === fresh) fresh.mtimeMs = s.mtimeMs;
        },
        () => {
          if (this.entries.get(filename) === fresh) this.entries.delete(filename);
        },
      );
      this.entries.set(filename, fresh);
      entry = fresh;
    }
    return entry;
  }
}

function currentMtime(filename: string): number {
  const st = fs.statSync(fsPath(filename), { throwIfNoEntry: false });
  return st ? st.mtimeMs : -1;
}
