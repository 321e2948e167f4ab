/**
 * translate_name, map_to_storage and type_checker for a URL-path: where mod_alias, mod_wsgi's
 * aliases or DocumentRoot put it, what the directory walk finds there, the merged sections and
 * the handler. The result (a Located) depends only on the path and the disk: ./route-cache.ts
 * keeps it. RewriteCond -U/-F's subrequests are located here too.
 */
import * as path from "node:path";
import type { DirSettings } from "../config/model";
import { effectiveOptions, resolveEnv } from "../config/model";
import { toByteString } from "../engine/byte-string";
import type { HostTables } from "./host-tables";
import { bad, type MapResult } from "./map-result";
import type { Located, Translation } from "./route-cache";
import type { HtaccessReader } from "./sections";
import { forbiddenSymlink } from "./symlinks";
import { walkPath } from "./walk";

/** mod_alias, then mod_wsgi's aliases, then DocumentRoot. */
export function translateAliases(t: HostTables, uri: string, forcedHandler: string | null, forcedType: string | null): Translation {
  const hit = t.aliasTable.match(uri);
  if (hit) {
    const alias = t.aliases[hit.index];
    const { prefix, target } = t.aliasBytes[hit.index];
    if (!alias.isScript) {
      return {
        filename: hit.target,
        scriptAlias: null,
        contextPrefix: alias.regex ? "" : prefix,
        contextDocumentRoot: alias.regex ? hit.target : target,
        forcedHandler,
        forcedType,
      };
    }
    // mod_wsgi appends the unmatched tail of the URL to the target, regex form included; a
    // mount at exactly "/" keeps the whole URL.
    const filename = alias.regex
      ? hit.target + uri.slice(hit.matchedLength)
      : alias.pattern === "/"
        ? target + uri
        : hit.target;
    return {
      filename,
      scriptAlias: { options: alias.options },
      contextPrefix: alias.regex ? uri.slice(0, hit.matchedLength) : prefix,
      contextDocumentRoot: alias.regex ? hit.target : target,
      forcedHandler,
      forcedType,
    };
  }
  return { filename: t.documentRoot + uri, scriptAlias: null, contextPrefix: "", contextDocumentRoot: t.documentRoot, forcedHandler, forcedType };
}

/** map_to_storage and type_checker for a translated request: the walk, the sections, the handler. */
export function locate(t: HostTables, uri: string, translated: Translation, htaccess: HtaccessReader | null): Located | MapResult {
  const walk = walkPath(translated.filename);
  if (walk.forbidden) return bad(403, `permission denied: ${walk.filename}`);
  const isDir = walk.stat?.isDirectory() ?? false;
  const dir = walk.stat === null ? parentDir(walk.filename) : isDir ? withSlash(walk.filename) : parentDir(walk.filename);
  const basename = isDir ? null : path.basename(walk.filename);
  let settings: DirSettings;
  try {
    settings = t.sections.settingsFor(dir, basename, uri, htaccess);
  } catch (err) {
    // Messages are text (file names from the configuration side); reasons are byte strings.
    return bad(500, toByteString((err as Error).message));
  }
  if (t.restrictsSymlinks) {
    const link = forbiddenSymlink(walk.filename, (d) => effectiveOptions(t.sections.settingsFor(d, null, uri, null)));
    if (link !== null) return bad(403, `Symbolic link not allowed or link target not accessible: ${link}`, settings);
  }
  return { at: Date.now(), translated, walk, isDir, settings, options: effectiveOptions(settings), handler: handlerFor(translated, settings, isDir, walk.filename), env: resolveEnv(settings.env), pathTranslated: undefined };
}

/** type_checker: which handler runs a request (a rewrite's H=, WSGIScriptAlias, SetHandler, AddHandler). */
export function handlerFor(translated: Translation, settings: DirSettings, isDir: boolean, filename: string): string | null {
  const handler = translated.forcedHandler ?? (translated.scriptAlias ? "wsgi-script" : null);
  const setHandler = settings.handler?.value;
  if (setHandler && setHandler.toLowerCase() !== "none") return translated.forcedHandler ?? setHandler;
  if (!handler && !isDir) return handlerByExtension(settings, filename);
  return handler;
}

/** mod_mime: the handler of the last extension that has one (AddHandler). */
function handlerByExtension(settings: DirSettings, file: string): string | null {
  const map = settings.addHandlers;
  if (!map || map.size === 0) return null;
  const parts = path.basename(file).split(".");
  let handler: string | null = null;
  for (let i = 1; i < parts.length; i++) {
    const h = map.get(parts[i].toLowerCase());
    if (h !== undefined) handler = h.value === "" ? null : h.value;
  }
  return handler;
}

export function parentDir(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i + 1);
}

export function withSlash(p: string): string {
  return p.endsWith("/") ? p : p + "/";
}
