/**
 * Users and groups as /etc/passwd and /etc/group name them (getpwnam/getgrnam and
 * getpwuid/getgrgid without NSS modules): what user=, group=, supplementary-groups=,
 * socket-user= and script-user=/script-group= of WSGIDaemonProcess are resolved against.
 */
import * as fs from "node:fs";

/**
 * The entry (its `:`-separated fields) named `name` in `file`, or null. A number, `#N` or `N`,
 * stands for itself: `["", "", N, N]`.
 */
export function accountEntry(file: string, name: string): string[] | null {
  if (/^#?\d+$/.test(name)) {
    const n = name.replace("#", "");
    return ["", "", n, n];
  }
  try {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === name) return f;
    }
  } catch {
    /* no such file */
  }
  return null;
}

/**
 * Entries by id, kept per file: read again when its mtime changed, looked at no more than once
 * a second (the ownership check asks on requests).
 */
const names = new Map<string, { mtimeMs: number; seenAt: number; byId: Map<number, string[]> }>();
const RECHECK_MS = 1000;

/** The name `file` gives id `id` (the first entry with it), or null. */
export function accountName(file: string, id: number): string | null {
  return entryById(file, id)?.[0] ?? null;
}

/** The home directory (the sixth field) of the first /etc/passwd-style entry with uid `id`, or null (getpwuid's pw_dir). */
export function accountHome(file: string, id: number): string | null {
  const f = entryById(file, id);
  return f !== null && f.length >= 6 ? f[5]! : null;
}

/** The first entry of `file` with id `id` (its fields), or null. */
function entryById(file: string, id: number): string[] | null {
  const now = Date.now();
  let entry = names.get(file);
  if (entry === undefined || now - entry.seenAt >= RECHECK_MS) {
    let mtimeMs: number;
    try {
      mtimeMs = fs.statSync(file).mtimeMs;
    } catch {
      return null;
    }
    if (entry === undefined || entry.mtimeMs !== mtimeMs) {
      let text: string;
      try {
        text = fs.readFileSync(file, "utf8");
      } catch {
        return null;
      }
      const byId = new Map<number, string[]>();
      for (const line of text.split("\n")) {
        const f = line.split(":");
        const n = Number(f[2]);
        if (f.length >= 3 && f[0] && f[2] !== "" && Number.isInteger(n) && !byId.has(n)) byId.set(n, f);
      }
      entry = { mtimeMs, seenAt: now, byId };
      names.set(file, entry);
    } else entry.seenAt = now;
  }
  return entry.byId.get(id) ?? null;
}
