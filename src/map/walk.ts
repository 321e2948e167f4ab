/**
 * Apache's directory walk (ap_directory_walk), the part that decides PATH_INFO: the mapped
 * filename is stat'ed one segment at a time; the walk stops at the first segment that is a
 * regular file or does not exist, and whatever follows becomes path_info. So PATH_INFO is
 * decided by the filesystem, not by the alias text.
 */
import * as fs from "node:fs";
import { fsPath } from "../engine/byte-string";

export interface WalkResult {
  /** The walked path: up to and including the segment where the walk stopped. */
  readonly filename: string;
  /** The rest of the mapped path after `filename` ("" when none). */
  readonly pathInfo: string;
  /** Stat of `filename`, or null when it does not exist (Apache's APR_NOFILE). */
  readonly stat: fs.Stats | null;
  /** A segment could not be read (EACCES): Apache answers 403. */
  readonly forbidden: boolean;
}

const STAT_OPTS = { throwIfNoEntry: false } as const;

/**
 * How long a stat result is reused. Apache stats on every request; under load that is most of
 * the map phase's cost, so results are kept for a moment: a file created, removed or touched is
 * seen within this many milliseconds.
 */
export const STAT_TTL_MS = 200;
const STAT_CACHE_MAX = 8192;

interface CachedStat {
  readonly at: number;
  readonly stat: fs.Stats | undefined;
  readonly code: string | undefined;
}

const statCache = new Map<string, CachedStat>();

/**
 * fs.statSync through the short-lived cache; `code` is the errno code of a failure other than
 * ENOENT. `p` is a byte string, as the mapper's paths (the daemon groups' script-user check
 * reuses the walk's stat of the script through this).
 */
export function cachedStat(p: string): { stat: fs.Stats | undefined; code: string | undefined } {
  const now = Date.now();
  const hit = statCache.get(p);
  if (hit !== undefined && now - hit.at < STAT_TTL_MS) return hit;
  let stat: fs.Stats | undefined;
  let code: string | undefined;
  try {
    stat = fs.statSync(fsPath(p), STAT_OPTS);
  } catch (err) {
    code = (err as NodeJS.ErrnoException).code;
  }
  if (statCache.size >= STAT_CACHE_MAX) statCache.clear();
  const entry = { at: now, stat, code };
  statCache.set(p, entry);
  return entry;
}

/** Forget cached stats (tests that change files and must see it at once). */
export function clearStatCache(): void {
  statCache.clear();
}

export function walkPath(mapped: string): WalkResult {
  // Fast path: the whole path exists (a script file, a static file, a directory).
  const whole = cachedStat(mapped);
  if (whole.stat) return { filename: mapped, pathInfo: "", stat: whole.stat, forbidden: false };
  if (whole.code === "EACCES") return { filename: mapped, pathInfo: "", stat: null, forbidden: true };
  // ENOENT or ENOTDIR: walk segment by segment to find where the path stops existing.

  let pos = mapped.startsWith("/") ? 1 : 0;
  for (;;) {
    const next = mapped.indexOf("/", pos);
    const end = next < 0 ? mapped.length : next;
    if (end === pos) {
      // An empty segment ("//"): nothing to stat.
      if (next < 0) break;
      pos = next + 1;
      continue;
    }
    const prefix = mapped.slice(0, end);
    const { stat: st, code } = cachedStat(prefix);
    if (code === "EACCES") return { filename: prefix, pathInfo: mapped.slice(end), stat: null, forbidden: true };
    if (!st) return { filename: prefix, pathInfo: mapped.slice(end), stat: null, forbidden: false };
    if (!st.isDirectory()) return { filename: prefix, pathInfo: mapped.slice(end), stat: st, forbidden: false };
    if (next < 0) return { filename: prefix, pathInfo: "", stat: st, forbidden: false };
    pos = next + 1;
  }
  return { filename: mapped, pathInfo: "", stat: null, forbidden: false };
}

/**
 * mod_wsgi's / Apache's ap_find_path_info: the length of the URI prefix that corresponds to
 * everything before path_info. Walks backwards over both strings while they agree (an extra
 * `/` in the URI matches a `/` in path_info), then forward to the next `/`, so SCRIPT_NAME
 * always ends on a segment boundary.
 */
export function findPathInfo(uri: string, pathInfo: string): number {
  // A transcription of the C loop `while (lu-- && lp-- && uri[lu] == path_info[lp])`,
  // including where its post-decrements leave `lu` when it stops.
  let lu = uri.length;
  let lp = pathInfo.length;
  for (;;) {
    if (lu === 0) {
      lu = -1;
      break;
    }
    lu--;
    if (lp === 0) break;
    lp--;
    if (uri[lu] !== pathInfo[lp]) break;
    if (pathInfo[lp] === "/") {
      while (lu > 0 && uri[lu - 1] === "/") lu--;
    }
  }
  if (lu === -1) lu = 0;
  while (lu < uri.length && uri[lu] !== "/") lu++;
  return lu;
}

/** Collapse runs of `/` (ap_no2slash). */
export function noTwoSlashes(s: string): string {
  return s.includes("//") ? s.replace(/\/{2,}/g, "/") : s;
}
