/**
 * Splitting a request target into the pieces Apache keeps: the raw path, the query (null
 * when no `?` was sent, "" for a bare `?`), and REQUEST_URI as sent.
 */
export interface RequestTarget {
  /** The path exactly as sent, still %-encoded. */
  readonly rawPath: string;
  /** r->args: the text after the first `?`, or null when there was no `?`. */
  readonly query: string | null;
}

export function splitTarget(target: string): RequestTarget {
  const q = target.indexOf("?");
  if (q < 0) return { rawPath: target, query: null };
  return { rawPath: target.slice(0, q), query: target.slice(q + 1) };
}
