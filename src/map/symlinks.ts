/**
 * `Options FollowSymLinks` / `SymLinksIfOwnerMatch`, as Apache's directory walk applies them:
 * a path component that is a symbolic link is followed only when the options in force for
 * the directory holding it allow it (SymLinksIfOwnerMatch: when the link and its target have
 * the same owner). Otherwise the request gets 403.
 *
 * Only configurations that take FollowSymLinks away somewhere pay for this (see
 * `restrictsSymlinks`), and the map phase caches the outcome per path with its other results.
 */
import * as fs from "node:fs";
import type { DirSettings, OptionName } from "../config/model";
import { fsPath } from "../engine/byte-string";

/** True when some of these settings' Options leave out FollowSymLinks (httpd's default has it). */
export function restrictsSymlinks(settings: readonly DirSettings[]): boolean {
  return settings.some((s) => {
    const o = s.options;
    if (!o) return false;
    return o.explicit ? !o.opts.includes("FollowSymLinks") : o.remove.includes("FollowSymLinks");
  });
}

/**
 * The first component of `walked` (a path the directory walk found, existing up to its end)
 * that is a symbolic link the options do not allow, or null. `optionsFor(dir)` gives the
 * options in force for a directory (ending in `/`).
 */
export function forbiddenSymlink(walked: string, optionsFor: (dir: string) => ReadonlySet<OptionName>): string | null {
  let pos = 1;
  while (pos <= walked.length) {
    const next = walked.indexOf("/", pos);
    const end = next < 0 ? walked.length : next;
    if (end > pos) {
      const component = walked.slice(0, end);
      let link: fs.Stats | undefined;
      try {
        link = fs.lstatSync(fsPath(component), { throwIfNoEntry: false });
      } catch {
        return null;
      }
      if (!link) return null;
      if (link.isSymbolicLink()) {
        const options = optionsFor(walked.slice(0, pos));
        if (!options.has("FollowSymLinks")) {
          if (!options.has("SymLinksIfOwnerMatch")) return component;
          const target = fs.statSync(fsPath(component), { throwIfNoEntry: false });
          if (!target || target.uid !== link.uid) return component;
        }
      }
    }
    if (next < 0) break;
    pos = next + 1;
  }
  return null;
}
