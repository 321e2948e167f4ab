/**
 * Validators and conditional requests as Apache's core computes them: `ap_make_etag_ex`
 * (http_etag.c), `ap_set_last_modified`, and `ap_meets_conditions` / `ap_condition_*`
 * (http_protocol.c), including Apache's rules that a Last-Modified less than 60 s older than
 * the request is only a weak validator, and that an ETag made within 1 s of the file's mtime
 * is weak.
 */
import type * as fs from "node:fs";
import type { FileETagParts } from "../config/file-etag";

export type AnyStats = fs.Stats | fs.BigIntStats;

export type { FileETagParts };

export const DEFAULT_FILE_ETAG: FileETagParts = { mtime: true, size: true };

/** mtime in microseconds, as APR keeps it. Exact with BigIntStats; from `mtimeMs` otherwise. */
export function mtimeMicros(stat: AnyStats): bigint {
  const ns = (stat as fs.BigIntStats).mtimeNs;
  if (typeof ns === "bigint") return ns / 1000n;
  // A double holds mtimeMs to ~0.1 µs; the epsilon keeps x.999999 from flooring one µs low.
  return BigInt(Math.floor(Number(stat.mtimeMs) * 1000 + 1e-3));
}

/**
 * Apache's ETag: `"size-mtime"` in lower-case hex with mtime in µs under the default FileETag,
 * `"inode-size-mtime"` with INode. Weak (`W/`) when the request comes within a second of the mtime.
 * Returns undefined for `FileETag None` (null parts or none chosen). `vlv` is a negotiated
 * response's variant list validator (see withVariantList). Digest ETags are made by digestETag.
 */
export function makeETag(stat: AnyStats, nowMs: number, parts: FileETagParts | null = DEFAULT_FILE_ETAG, vlv?: string): string | undefined {
  if (parts === null) return undefined;
  const fields: string[] = [];
  if (parts.inode) fields.push(BigInt(stat.ino).toString(16));
  if (parts.size) fields.push(BigInt(stat.size).toString(16));
  const mtime = mtimeMicros(stat);
  if (parts.mtime) fields.push(mtime.toString(16));
  if (fields.length === 0) return undefined;
  const weak = BigInt(Math.floor(nowMs * 1000)) - mtime < 1_000_000n;
  return withVariantList(fields.join("-"), weak, vlv);
}

/** FileETag Digest: the base64 SHA-1 of the content, never weak by its age (make_digest_etag). */
export function digestETag(sha1: Buffer, vlv?: string): string {
  return withVariantList(sha1.toString("base64"), false, vlv);
}

/**
 * The variant list validator of a negotiated resource: for MultiViews `"mtime"` of the directory
 * the variants were read from, weak within a second of it (ap_make_etag on a request with no
 * file); for a type map, the map file's own ETag (FileETag's parts: `"size-mtime"` by default).
 */
export function variantListValidator(dirStat: AnyStats, nowMs: number, parts: FileETagParts = DEFAULT_FILE_ETAG): string {
  if (!dirStat.isDirectory()) {
    const tag = makeETag(dirStat, nowMs, parts);
    if (tag !== undefined) return tag;
  }
  const mtime = mtimeMicros(dirStat);
  const weak = BigInt(Math.floor(nowMs * 1000)) - mtime < 1_000_000n;
  return `${weak ? "W/" : ""}"${mtime.toString(16)}"`;
}

/**
 * `[W/]"opaque"`, or with a variant list validator httpd's structured tag: `"opaque;vlv"` (a
 * weak vlv makes it weak). httpd 2.4's etag_end drops the closing quote (apr_cpystrn copies
 * the vlv without it and adds none), which is no entity-tag at all (RFC 9110 8.8.3), so caches
 * and clients may discard it: we send the tag terminated (docs/differences.md).
 */
function withVariantList(opaque: string, weak: boolean, vlv: string | undefined): string {
  if (vlv === undefined) return `${weak ? "W/" : ""}"${opaque}"`;
  const vlvWeak = vlv.startsWith("W/");
  const inner = vlv.slice(vlvWeak ? 3 : 1, -1);
  return `${weak || vlvWeak ? "W/" : ""}"${opaque};${inner}"`;
}

/** Last-Modified in seconds: the mtime, but never later than the request (ap_rationalize_mtime). */
export function lastModifiedSeconds(stat: AnyStats, nowMs: number): number {
  const mtimeSec = Number(mtimeMicros(stat) / 1_000_000n);
  return Math.min(mtimeSec, Math.floor(nowMs / 1000));
}

/** RFC 1123 date, as Apache formats it. */
export function httpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString();
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`; anything may follow (old `; length=N`). */
const IMF_FIXDATE = /^\s*[A-Za-z]+, (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT/;
/** RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850 = /^\s*[A-Za-z]+, (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT/;
/** asctime `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = /^\s*[A-Za-z]+ ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})/;

/**
 * An HTTP-date in whole seconds, as apr_date_parse_http reads it: the three formats of RFC
 * 9110 5.6.7 only (GMT, case-sensitive month names, a real calendar day); 0 when the value is
 * none of them (APR_DATE_BAD), so the condition it carries is ignored, as httpd ignores it.
 * JavaScript's Date.parse would take ISO dates, other zones and impossible days.
 */
export function parseHttpDateSeconds(value: string | undefined): number {
  if (value === undefined) return 0;
  let m = IMF_FIXDATE.exec(value);
  let day: string, month: string, year: number, hms: string[];
  if (m) {
    [day, month, year, hms] = [m[1], m[2], Number(m[3]), m.slice(4, 7)];
  } else if ((m = RFC850.exec(value))) {
    const yy = Number(m[3]);
    [day, month, year, hms] = [m[1], m[2], yy < 70 ? 2000 + yy : 1900 + yy, m.slice(4, 7)];
  } else if ((m = ASCTIME.exec(value))) {
    [day, month, year, hms] = [m[2].trim(), m[1], Number(m[6]), m.slice(3, 6)];
  } else {
    return 0;
  }
  const mon = MONTHS.indexOf(month);
  const d = Number(day);
  const [h, min, sec] = hms.map(Number);
  if (mon < 0 || d < 1 || h > 23 || min > 59 || sec > 60) return 0;
  const ms = Date.UTC(year, mon, d, h, min, sec);
  // Date.UTC rolls 30 Feb over into March: such a day does not exist.
  if (new Date(ms).getUTCDate() !== d) return 0;
  return Math.floor(ms / 1000);
}

/** Split an entity-tag list on commas outside quoted strings. */
function etagList(header: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    if (c === "," && !quoted) {
      out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  out.push(cur.trim());
  return out.filter((t) => t.length > 0);
}

/** Strong comparison: neither side may be weak. */
export function etagMatchesStrong(header: string, etag: string): boolean {
  if (etag.startsWith("W/")) return false;
  return etagList(header).some((t) => !t.startsWith("W/") && t === etag);
}

/** Weak comparison: `W/` ignored on both sides. */
export function etagMatchesWeak(header: string, etag: string): boolean {
  const opaque = etag.replace(/^W\//, "");
  return etagList(header).some((t) => t.replace(/^W\//, "") === opaque);
}

const enum Cond {
  None,
  NoMatch,
  Weak,
  Strong,
}

export interface ConditionInput {
  /** `GET` and `HEAD` count as GET (M_GET); anything else does not. */
  method: string;
  /** Request header lookup by lower-case name. */
  header(name: string): string | undefined;
  etag: string | undefined;
  lastModifiedSec: number;
  nowSec: number;
}

/**
 * ap_meets_conditions: 412 (If-Match / If-Unmodified-Since, or If-None-Match on a non-GET),
 * 304 (If-None-Match / If-Modified-Since on GET), or 200 to go on.
 */
export function evaluateConditions(c: ConditionInput): 200 | 304 | 412 {
  const isGet = c.method === "GET" || c.method === "HEAD";
  const hasRange = c.header("range") !== undefined;
  const mtime = c.lastModifiedSec;
  const freshness = (): Cond => (c.nowSec < mtime + 60 ? (hasRange ? Cond.NoMatch : Cond.Weak) : Cond.Strong);
  let notModified = -1;

  const ifMatch = c.header("if-match");
  if (ifMatch !== undefined) {
    const ok = ifMatch.startsWith("*") || (c.etag !== undefined && etagMatchesStrong(ifMatch, c.etag));
    if (!ok) return 412;
  }

  const ius = c.header("if-unmodified-since");
  if (ius !== undefined) {
    // Modified after the given date: fails (412), unless Apache deems the mtime too fresh under a Range.
    const t = parseHttpDateSeconds(ius);
    const cond = t !== 0 && mtime > t ? freshness() : Cond.NoMatch;
    if (cond === Cond.NoMatch) notModified = 0;
    else return 412;
  }

  const inm = c.header("if-none-match");
  if (inm !== undefined) {
    let cond = Cond.NoMatch;
    if (inm.startsWith("*")) cond = Cond.Strong;
    else if (c.etag !== undefined) {
      if (isGet) {
        if (hasRange) cond = etagMatchesStrong(inm, c.etag) ? Cond.Strong : Cond.NoMatch;
        else cond = etagMatchesWeak(inm, c.etag) ? Cond.Weak : Cond.NoMatch;
      } else if (etagMatchesStrong(inm, c.etag)) cond = Cond.Strong;
    }
    if (cond === Cond.NoMatch) notModified = 0;
    else if (isGet) {
      if (notModified !== 0) notModified = 1;
    } else return 412;
  }

  const ims = c.header("if-modified-since");
  if (ims !== undefined) {
    const t = parseHttpDateSeconds(ims);
    const cond = t >= mtime && t <= c.nowSec ? freshness() : Cond.NoMatch;
    if (cond === Cond.NoMatch) notModified = 0;
    else if (isGet && notModified !== 0) notModified = 1;
  }

  // Any If-Range alongside a Range leaves the decision to the range code.
  if (c.header("if-range") !== undefined && hasRange) return 200;
  return notModified === 1 ? 304 : 200;
}

/**
 * ap_condition_if_range: may the Range be honoured? A quoted value must equal the ETag exactly
 * (strong); a date must equal Last-Modified and be at least 60 s older than the request.
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string | undefined, lastModifiedSec: number, nowSec: number): boolean {
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"')) return etag !== undefined && ifRange === etag;
  const t = parseHttpDateSeconds(ifRange);
  return t === lastModifiedSec && nowSec >= lastModifiedSec + 60;
}
