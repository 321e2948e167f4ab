/**
 * Reading a header from the flat lower-case `[name, value, ...]` list the front ends give.
 */

/**
 * A header's value as httpd reads it: repeated fields joined with ", " (ap_get_mime_headers
 * merges them on arrival), or undefined when absent. Two Range fields so make one value that
 * is no valid range set, and two Expect fields one expectation httpd does not know.
 */
export function mergedHeaderValue(headers: readonly string[], lowerName: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i] === lowerName) value = value === undefined ? headers[i + 1] : `${value}, ${headers[i + 1]}`;
  }
  return value;
}
