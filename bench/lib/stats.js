"use strict";
/** Small statistics for a handful of rounds. */

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * The ratio of two rows measured in the same alternating rounds: the median of the per-round
 * ratios, so drift that moves both rows of a round cancels. Falls back to the ratio of medians
 * when the rows have no round in common.
 */
function pairedRatio(a, b) {
  const per = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] > 0 && b[i] > 0) per.push(a[i] / b[i]);
  if (per.length) return { ratio: median(per), min: Math.min(...per), max: Math.max(...per), rounds: per.length };
  return { ratio: median(a) / median(b), min: NaN, max: NaN, rounds: 0 };
}

module.exports = { median, pairedRatio };
