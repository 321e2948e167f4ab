/**
 * Range handling as Apache's byterange filter does it (`ap_set_byterange`, byterange_filter.c):
 * a syntactically bad spec anywhere means the whole header is ignored; ranges past the end are
 * dropped; a range overlapping or adjoining the one before it is merged into it; `0-` swallows
 * every other range; only when every range is past the end is the answer 416. Limits as
 * Apache's defaults: MaxRanges 200, MaxRangeOverlaps 20, MaxRangeReversals 20 (over them the
 * whole file is sent).
 */

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export type RangeVerdict =
  | { kind: "full" }
  | { kind: "unsatisfiable" }
  | { kind: "partial"; ranges: ByteRange[] };

export interface RangeLimits {
  maxRanges?: number;
  maxOverlaps?: number;
  maxReversals?: number;
}

const FULL: RangeVerdict = { kind: "full" };

/** ap_parse_strict_length: digits only, no sign, no spaces. */
function strictLength(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Decide what to send for a `Range` header against a body of `length` bytes. */
export function evaluateRange(header: string | undefined, length: number, limits: RangeLimits = {}): RangeVerdict {
  if (header === undefined || header.slice(0, 6).toLowerCase() !== "bytes=" || length <= 0) return FULL;
  const maxRanges = limits.maxRanges ?? 200;
  const maxOverlaps = limits.maxOverlaps ?? 20;
  const maxReversals = limits.maxReversals ?? 20;

  const ranges: ByteRange[] = [];
  let unsatisfiable = false;
  let inMerge = false;
  let ostart = 0;
  let oend = 0;
  let sum = 0;
  let overlaps = 0;
  let reversals = 0;

  for (const cur of header.slice(6).split(",")) {
    if (cur === "") break; // ap_getword stops at an empty item
    const dash = cur.indexOf("-");
    if (dash < 0) return FULL;
    let start: number;
    let end: number;
    if (dash === 0) {
      const n = strictLength(cur.slice(1));
      if (n === undefined || n < 1) return FULL;
      start = length - n;
      end = length - 1;
    } else {
      const s = strictLength(cur.slice(0, dash));
      if (s === undefined) return FULL;
      start = s;
      const rest = cur.slice(dash + 1);
      if (rest !== "") {
        const e = strictLength(rest);
        if (e === undefined || start > e) return FULL;
        end = e;
      } else {
        end = length - 1;
        if (start === 0) {
          // `0-` means the whole body as one range, whatever else was asked.
          ranges.length = 0;
          sum = 0;
          inMerge = true;
          ostart = 0;
          oend = end;
          break;
        }
      }
    }
    if (start < 0) start = 0;
    if (start >= length) {
      unsatisfiable = true;
      continue;
    }
    if (end >= length) end = length - 1;

    if (!inMerge) {
      ostart = start;
      oend = end;
      inMerge = true;
      continue;
    }
    inMerge = false;
    if (start >= ostart && end <= oend) inMerge = true;
    if (start < ostart && end >= ostart - 1) {
      ostart = start;
      reversals++;
      inMerge = true;
    }
    if (end >= oend && start <= oend + 1) {
      oend = end;
      inMerge = true;
    }
    if (inMerge) {
      overlaps++;
      continue;
    }
    ranges.push({ start: ostart, end: oend });
    sum += oend - ostart + 1;
    inMerge = true;
    ostart = start;
    oend = end;
  }

  if (inMerge) {
    ranges.push({ start: ostart, end: oend });
    sum += oend - ostart + 1;
  } else if (ranges.length === 0 && unsatisfiable) {
    return { kind: "unsatisfiable" };
  }
  if (sum > length) return FULL;
  if (ranges.length === 0) return FULL;
  if ((maxRanges >= 0 && ranges.length > maxRanges) || (maxOverlaps >= 0 && overlaps > maxOverlaps) || (maxReversals >= 0 && reversals > maxReversals)) {
    return FULL;
  }
  return { kind: "partial", ranges };
}
