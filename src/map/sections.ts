/**
 * Which configuration sections apply to a request, merged in Apache's order:
 *
 *   1. <Directory> (non-regex), shortest path first, with each directory's .htaccess after
 *      the sections for that directory;
 *   2. <DirectoryMatch> / <Directory ~>, in configuration order;
 *   3. <Files> / <FilesMatch> (server level, then those nested in applied Directory sections);
 *   4. <Location> / <LocationMatch>, in configuration order.
 *
 * Merged results are cached by the set of sections that applied, so a request pays for
 * matching, not for merging.
 */
import type { DirSettings, HostConfig, RewriteConfig, Section } from "../config/model";
import { defaultDirSettings, mergeDirSettings } from "../config/model";
import { toByteString } from "../engine/byte-string";

/** Reads a directory's .htaccess into settings, honouring what AllowOverride allows. */
export interface HtaccessReader {
  /** Settings from `dir`/.htaccess (dir ends with `/`), null when there is none; throws on a bad file (500). */
  read(dir: string, allowed: DirSettings): DirSettings | null;
}

interface IndexedSection {
  readonly index: number;
  readonly section: Section;
  /** Non-regex Directory: number of path components, for ordering and level matching. */
  readonly depth: number;
  readonly test: (s: string) => boolean;
}

export interface AppliedSettings {
  readonly settings: DirSettings;
  /** Names of the applied sections, for tests and `nodewsgi configtest -v` style tracing. */
  readonly key: string;
}

const MAX_CACHE = 4096;

export class SectionIndex {
  private readonly dirs: IndexedSection[] = [];
  private readonly dirRegex: IndexedSection[] = [];
  private readonly files: IndexedSection[] = [];
  private readonly locations: IndexedSection[] = [];
  private readonly nested = new Map<Section, IndexedSection[]>();
  private readonly base: DirSettings;
  private readonly cache = new Map<string, DirSettings>();
  private readonly locationCache = new Map<string, DirSettings>();
  /**
   * Some <Location>/<LocationMatch>, or an <If> at server level or in one of those (at any
   * depth), sets what httpd's translate hooks read of the per-directory configuration: httpd
   * merges those sections before translating the URL (walk_location_and_if), so a RewriteEngine
   * there switches the server-context rules on or off for the URLs they apply to, and a
   * location-wide Redirect there answers before the URL is mapped. Decided once: without any,
   * translation reads the server's own settings.
   */
  readonly early: boolean;

  /**
   * `main` is the main server when `host` is a virtual host: as httpd's ap_fixup_virtual_hosts,
   * the host's own server-level settings are merged over the main server's (each directive by
   * its merge rule), and the main server's sections come before the host's.
   */
  constructor(host: HostConfig, main?: HostConfig) {
    const inherits = main !== undefined && main !== host;
    this.base = mergeDirSettings(mergeDirSettings(defaultDirSettings(), inherits ? serverDir(main) : {}), serverDir(host));
    let index = 0;
    for (const section of [...(inherits ? main.sections : []), ...host.sections]) {
      const entry = indexSection(section, index++);
      switch (section.kind) {
        case "Directory":
          (section.isRegex ? this.dirRegex : this.dirs).push(entry);
          this.nested.set(section, section.files.map((f) => indexSection(f, index++)));
          break;
        case "DirectoryMatch":
          this.dirRegex.push(entry);
          this.nested.set(section, section.files.map((f) => indexSection(f, index++)));
          break;
        case "Files":
        case "FilesMatch":
          this.files.push(entry);
          break;
        default:
          this.locations.push(entry);
      }
    }
    // Apache's core_reorder_directories: fewer components first, configuration order kept.
    this.dirs.sort((a, b) => a.depth - b.depth || a.index - b.index);
    this.early = this.locations.some((e) => readAtTranslation(e.section.settings)) || (this.base.ifSections ?? []).some((i) => readAtTranslation(i.settings));
  }

  /**
   * What httpd's translate phase reads of the per-directory configuration: the server's
   * settings with the <Location>/<LocationMatch> sections matching `uri` merged over them (the
   * first walk_location_and_if). The <If> sections they carry are left for the caller.
   */
  locationSettings(uri: string): DirSettings {
    return this.merged(this.locationCache, this.locations.filter((e) => e.test(uri)));
  }

  /** The server's settings with `applied` merged over them in order, cached by which they are. */
  private merged(cache: Map<string, DirSettings>, applied: readonly IndexedSection[]): DirSettings {
    const key = applied.map((e) => e.index).join(",");
    let merged = cache.get(key);
    if (!merged) {
      merged = this.base;
      for (const e of applied) merged = mergeDirSettings(merged, e.section.settings);
      if (cache.size >= MAX_CACHE) cache.clear();
      cache.set(key, merged);
    }
    return merged;
  }

  /** httpd's defaults, the main server's settings and the host's own (no sections). */
  get serverSettings(): DirSettings {
    return this.base;
  }

  /**
   * The merged settings for a request whose target lies in `dir` (a directory path ending in
   * `/`, or null when the request maps to no file, as for a pure Location), whose last path
   * segment is `basename`, and whose URL-path is `uri`.
   */
  settingsFor(dir: string | null, basename: string | null, uri: string, htaccess: HtaccessReader | null): DirSettings {
    const applied: IndexedSection[] = [];
    const fileCandidates: IndexedSection[] = [...this.files];
    let useHtaccess = false;
    if (dir !== null) {
      const levels = directoryLevels(dir);
      for (const e of this.dirs) {
        if (e.depth <= levels.length && e.test(levels[e.depth - 1])) applied.push(e);
      }
      for (const e of this.dirRegex) if (e.test(dir)) applied.push(e);
      for (const e of applied) fileCandidates.push(...(this.nested.get(e.section) ?? []));
      useHtaccess = htaccess !== null;
    }
    if (basename !== null) for (const e of fileCandidates) if (e.test(basename)) applied.push(e);
    for (const e of this.locations) if (e.test(uri)) applied.push(e);

    // .htaccess files are only looked for where some section (or the server) allows overrides.
    if (useHtaccess && (allowsOverride(this.base) || applied.some((e) => allowsOverride(e.section.settings)))) {
      return this.mergeWithHtaccess(dir!, applied, htaccess!);
    }
    return this.merged(this.cache, applied);
  }

  /** The slow path: .htaccess files are read level by level between the Directory sections. */
  private mergeWithHtaccess(dir: string, applied: readonly IndexedSection[], htaccess: HtaccessReader): DirSettings {
    const levels = directoryLevels(dir);
    let merged = this.base;
    let i = 0;
    for (let level = 1; level <= levels.length; level++) {
      for (; i < applied.length && applied[i].section.kind === "Directory" && !applied[i].section.isRegex && applied[i].depth === level; i++) {
        merged = mergeDirSettings(merged, applied[i].section.settings);
      }
      if (allowsOverride(merged)) {
        const extra = htaccess.read(levels[level - 1], merged);
        if (extra) merged = mergeDirSettings(merged, extra);
      }
    }
    for (; i < applied.length; i++) merged = mergeDirSettings(merged, applied[i].section.settings);
    return merged;
  }
}

/**
 * A host's per-directory settings given outside any section. RewriteEngine and RewriteOptions
 * there set the base directory scope too (mod_rewrite's cmd_rewriteengine): a <Directory>
 * with rules and no RewriteEngine runs them when the server turned the engine on.
 */
function serverDir(host: HostConfig): DirSettings {
  const { engine, options } = host.rewrite;
  if (engine === undefined && options === undefined) return host.dir;
  const rewrite: RewriteConfig = { rules: [], pendingConditions: [] };
  if (engine !== undefined) rewrite.engine = engine;
  if (options !== undefined) rewrite.options = options;
  return { ...host.dir, rewrite };
}

/** RewriteEngine or a location-wide Redirect is set in `settings` or in an <If> nested in them. */
function readAtTranslation(settings: DirSettings): boolean {
  return settings.rewrite?.engine !== undefined || settings.locationRedirect !== undefined || (settings.ifSections ?? []).some((i) => readAtTranslation(i.settings));
}

/** Some AllowOverride class or an AllowOverrideList directive: httpd reads .htaccess files then. */
function allowsOverride(settings: DirSettings): boolean {
  return (settings.allowOverride?.classes.length ?? 0) > 0 || (settings.allowOverrideList?.value.length ?? 0) > 0;
}

/** `/a/b/` -> [`/`, `/a/`, `/a/b/`]. */
function directoryLevels(dir: string): string[] {
  const levels = ["/"];
  let pos = 1;
  for (;;) {
    const next = dir.indexOf("/", pos);
    if (next < 0) break;
    levels.push(dir.slice(0, next + 1));
    pos = next + 1;
  }
  return levels;
}

function componentCount(path: string): number {
  // `/` is depth 1, `/a/` depth 2, ...
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path[i] === "/") n++;
  return Math.max(1, n);
}

function indexSection(section: Section, index: number): IndexedSection {
  // Matched against byte strings (mapped paths, decoded URL-paths), as regex sections are.
  const pattern = toByteString(section.pattern);
  let test: (s: string) => boolean;
  let depth = 0;
  if (section.isRegex) {
    const re = section.compiled!.regexp;
    test = (s) => {
      re.lastIndex = 0;
      return re.test(s);
    };
  } else if (section.kind === "Directory") {
    const p = pattern.endsWith("/") ? pattern : pattern + "/";
    depth = componentCount(p);
    if (section.hasWildcards) {
      const re = new RegExp("^" + globToRegex(p, true) + "$");
      test = (s) => re.test(s);
    } else {
      test = (s) => s === p;
    }
  } else if (section.kind === "Files") {
    if (section.hasWildcards) {
      const re = new RegExp("^" + globToRegex(pattern, true) + "$");
      test = (s) => re.test(s);
    } else {
      test = (s) => s === pattern;
    }
  } else {
    // <Location>: a prefix that ends at a segment boundary (Apache 2.4's location walk).
    if (section.hasWildcards) {
      const re = new RegExp("^" + globToRegex(pattern, true) + "(/|$)");
      test = (s) => re.test(s);
    } else {
      const len = pattern.length;
      test = (s) =>
        s.startsWith(pattern) && (len === 0 || pattern[len - 1] === "/" || s.length === len || s[len] === "/");
    }
  }
  return { index, section, depth, test };
}

/** fnmatch-style wildcards (`*`, `?`, `[...]`); with `pathname`, wildcards do not cross `/`. */
export function globToRegex(glob: string, pathname: boolean): string {
  const any = pathname ? "[^/]" : ".";
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") out += any + "*";
    else if (c === "?") out += any;
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) out += "\\[";
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith("!")) cls = "^" + cls.slice(1);
        out += "[" + cls.replace(/\\/g, "\\\\") + "]";
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return out;
}
