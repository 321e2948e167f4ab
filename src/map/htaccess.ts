/**
 * Per-directory .htaccess files, read where AllowOverride permits and cached by mtime, so a
 * request costs one stat per directory level, not a parse. An .htaccess with errors makes
 * the request a 500 with the reason in the error log, as in Apache.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DirSettings } from "../config/model";
import { parseHtaccess } from "../config/load";
import type { ErrorLog } from "../log/error-log";
import type { HtaccessReader } from "./sections";
import { NodewsgiError } from "../errors";
import { fsPath, textOf, toByteString } from "../engine/byte-string";

interface Cached {
  readonly mtimeMs: number;
  readonly size: number;
  readonly allowKey: string;
  readonly settings: DirSettings | null;
  readonly error: string | null;
}

export class HtaccessFiles implements HtaccessReader {
  private readonly cache = new Map<string, Cached>();
  /** AccessFileName as byte strings: they are joined to mapped paths. */
  private readonly names: readonly string[];

  /**
   * `names`: AccessFileName, the files looked for in each directory, in order. `serverRoot`: what
   * relative paths in them (AuthUserFile, AuthGroupFile) are relative to, as httpd's
   * ap_server_root_relative; without it, the .htaccess file's own directory.
   */
  constructor(
    private readonly log: ErrorLog,
    names: readonly string[] = [".htaccess"],
    private readonly serverRoot?: string,
  ) {
    this.names = names.map(toByteString);
  }

  read(dir: string, allowed: DirSettings): DirSettings | null {
    for (const name of this.names) {
      // `dir` is a byte string (a mapped path).
      const file = path.join(dir, name);
      const st = fs.statSync(fsPath(file), { throwIfNoEntry: false });
      if (!st || !st.isFile()) continue;
      const allowKey = JSON.stringify(allowed.allowOverride?.classes ?? []) + JSON.stringify(allowed.allowOverrideList?.value ?? []);
      let entry = this.cache.get(file);
      if (!entry || entry.mtimeMs !== st.mtimeMs || entry.size !== st.size || entry.allowKey !== allowKey) {
        entry = this.load(file, st, allowed, allowKey);
        this.cache.set(file, entry);
      }
      if (entry.error) throw new NodewsgiError("E_HTACCESS", entry.error);
      return entry.settings;
    }
    return null;
  }

  private load(file: string, st: fs.Stats, allowed: DirSettings, allowKey: string): Cached {
    let text: string;
    try {
      text = fs.readFileSync(fsPath(file), "utf8");
    } catch (err) {
      return { mtimeMs: st.mtimeMs, size: st.size, allowKey, settings: null, error: `${textOf(file)}: unable to read htaccess file: ${(err as Error).message}` };
    }
    // The configuration side takes paths as text (its own are read from UTF-8 files).
    const result = parseHtaccess(text, textOf(file), {
      ...(allowed.allowOverride ? { allowOverride: allowed.allowOverride } : {}),
      ...(allowed.allowOverrideList ? { allowOverrideList: allowed.allowOverrideList.value } : {}),
    }, this.serverRoot);
    if (result.errors.length > 0) {
      const error = result.errors.map((e) => e.message).join("; ");
      this.log.log("alert", "core", error);
      return { mtimeMs: st.mtimeMs, size: st.size, allowKey, settings: null, error };
    }
    return { mtimeMs: st.mtimeMs, size: st.size, allowKey, settings: { ...result.settings }, error: null };
  }
}
