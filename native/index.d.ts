export declare class NativeAliasTable {
  /**
   * `kinds[i]`: 0 prefix (`sources[i]` the URL), 1 regex (`sources[i]` the Rust source,
   * `prefixes[i]` its literal prefix), 2 evaluated by the caller. Strings are byte strings.
   */
  constructor(kinds: Array<number>, sources: Array<string>, prefixes: Array<string>)
  /** Regex rules Rust could not compile: the caller evaluates them. */
  get rejected(): Array<number>
}

export declare class NativeProxyList {
  constructor(entries: Array<string>)
  contains(address: string): boolean
}

/**
 * The environ (NUL-joined, `count` fields) after trusted-proxy handling, as
 * `N \0 environ fields (N of them) \0 set fields`; None when a field holds a NUL.
 */
export declare function applyTrustedProxyHeaders(packed: string, count: number, remoteAddress: string, trustedHeaders: Array<string>, proxies?: NativeProxyList | undefined | null): string | null

/** 0 proceed, 413 declared length over the limit, 411 chunked while not accepted. */
export declare function bodyVerdict(declaredLength: number, chunked: boolean, limit: number, acceptChunked: boolean): number

/**
 * The first rule of `table` matching `path`: its index, -1 for none, -2 when `path` is not
 * a byte string. `out[0]` gets the matched length, `out[1 + 2k]`/`out[2 + 2k]` group k's
 * offsets (-1 when the group did not take part).
 */
export declare function findAlias(table: NativeAliasTable, path: string, out: OutSlots): number

/**
 * The environ key of one request header name (`HTTP_X_FOO`, `CONTENT_TYPE`), or None when
 * the header is not passed to applications. The caller memoises it per name, so values never
 * cross the boundary.
 */
export declare function headerEnvironKey(name: string, passAuthorization: boolean): string | null

/**
 * The normalised path, or "400"/"404" (no leading `/`, so never a path).
 * `encoded_slashes`: 0 off, 1 on, 2 nodecode.
 */
export declare function normalizePath(raw: string, encodedSlashes: number): string
