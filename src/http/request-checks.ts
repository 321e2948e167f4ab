/**
 * Framing checks every front end applies before a request reaches the mapper. They are about
 * the integrity of the message itself (RFC 9112 section 6), not about policy.
 */

/** True when Content-Length appears with two different values (a request-smuggling vector). */
export function conflictingContentLength(headers: readonly string[]): boolean {
  let seen: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== "content-length") continue;
    // A single field may itself hold a list ("5, 5"); every member must agree.
    for (const part of headers[i + 1].split(",")) {
      const v = part.trim();
      if (seen === undefined) seen = v;
      else if (v !== seen) return true;
    }
  }
  return false;
}

export interface DeclaredLength {
  /** Content-Length as a number, or -1 when absent or chunked. */
  readonly length: number;
  readonly chunked: boolean;
  /** Content-Length that is not a non-negative decimal integer, or an unknown transfer coding. */
  readonly invalid: boolean;
}

export function parseDeclaredLength(headers: readonly string[]): DeclaredLength {
  let length = -1;
  let chunked = false;
  let invalid = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name === "content-length") {
      const v = headers[i + 1].split(",")[0].trim();
      if (!/^\d{1,15}$/.test(v)) invalid = true;
      else length = Number(v);
    } else if (name === "transfer-encoding") {
      const codings = headers[i + 1].toLowerCase().split(",").map((s) => s.trim());
      // Only "chunked" is supported, and it must be the final coding (RFC 9112 6.1).
      if (codings[codings.length - 1] === "chunked" && codings.length === 1) chunked = true;
      else invalid = true;
    }
  }
  // Transfer-Encoding overrides Content-Length (RFC 9112 6.3).
  if (chunked) length = -1;
  return { length, chunked, invalid };
}
