/**
 * The engine: the per-request hot path, with one interface and two implementations
 * (`native`, the Rust addon in native/, and `js`, its pure-TypeScript twin). Both must give
 * identical answers for identical inputs; test/engine-parity.test.js checks that on generated
 * inputs. Everything here is a pure function of its arguments: no I/O, no clocks.
 *
 * The Apache translate phase itself (sections, handlers, the filesystem walk) lives in
 * src/map/ and calls into the engine for the parts that run on every request.
 */

/** One alias-like rule, in configuration order. */
export type AliasRule =
  /** `Alias URL PATH` / `WSGIScriptAlias URL PATH`: mod_alias prefix semantics. */
  | { readonly kind: "prefix"; readonly url: string; readonly target: string }
  /**
   * `AliasMatch REGEX PATH` / `WSGIScriptAliasMatch REGEX PATH`: `pattern` is the Apache (PCRE)
   * source as written in the configuration; `target` may hold `$0`..`$9` references.
   */
  | { readonly kind: "regex"; readonly pattern: string; readonly target: string };

/** The first rule that matches a URL path. */
export interface AliasHit {
  /** Index of the rule in the array given to `compileAliasTable`. */
  readonly index: number;
  /**
   * The mapped filesystem path. Prefix rules: target + the rest of the URL after the matched
   * prefix. Regex rules: target with `$N` substituted (the unmatched rest is NOT appended, as
   * in Apache's AliasMatch).
   */
  readonly target: string;
  /**
   * How many characters of the URL path the rule consumed: the prefix (including any extra
   * slashes collapsed while matching) or the end offset of the whole regex match. mod_wsgi uses
   * this to split SCRIPT_NAME from PATH_INFO.
   */
  readonly matchedLength: number;
}

export interface AliasTable {
  readonly size: number;
  /** The first rule, in configuration order, matching `path` (decoded, normalised), or null. */
  match(path: string): AliasHit | null;
  /**
   * Indices of regex rules this implementation could not run natively and evaluates with
   * JavaScript's RegExp instead (always empty for the js engine). The server reports them at
   * startup.
   */
  readonly jsEvaluatedRules: readonly number[];
}

/** Options for turning request headers into CGI environ keys. */
export interface HeaderEnvironOptions {
  /** WSGIPassAuthorization: pass `Authorization` through as HTTP_AUTHORIZATION. */
  readonly passAuthorization: boolean;
}

/** Result of URL-path normalisation, Apache style. */
export type NormalizedPath =
  | { readonly ok: true; readonly path: string }
  /** 400 for a bad escape or a path escaping the root, 404 for an encoded slash when not allowed. */
  | { readonly ok: false; readonly status: 400 | 404 };

/** `AllowEncodedSlashes`: Off (404), On (decode), NoDecode (keep `%2F` as is). */
export type EncodedSlashes = "off" | "on" | "nodecode";

/** A compiled `WSGITrustedProxies` list: addresses and CIDR blocks, IPv4 and IPv6. */
export interface ProxyList {
  contains(address: string): boolean;
}

/** What `applyTrustedProxyHeaders` may change besides the HTTP_* keys. */
export interface ProxyOverrides {
  /** Flat `[key, value, ...]` of keys to set: REMOTE_ADDR, wsgi.url_scheme, HTTPS, SERVER_PORT, SCRIPT_NAME prefix, ... */
  readonly set: readonly string[];
}

export interface Engine {
  readonly name: "native" | "js";

  /** Compile an alias table once per configuration; match against it per request. */
  compileAliasTable(rules: readonly AliasRule[]): AliasTable;

  /**
   * Map request headers (flat `[name, value, ...]`, names lower-case, in arrival order) to CGI
   * environ keys as Apache does: `CONTENT_TYPE` and `CONTENT_LENGTH` without prefix, others as
   * `HTTP_` + upper-case name with `-` -> `_`; names containing `_` (or anything but
   * letters, digits and `-`) dropped; repeated names joined with `, ` in arrival order;
   * `Authorization` only when passAuthorization; `Proxy-Authorization` never.
   * Returns a flat `[key, value, ...]` list.
   */
  headersToEnviron(headers: readonly string[], options: HeaderEnvironOptions): string[];

  /** Compile a WSGITrustedProxies list; throws NodewsgiError `E_PROXY_LIST` on a bad entry. */
  compileProxyList(entries: readonly string[]): ProxyList;

  /**
   * mod_wsgi's WSGITrustedProxyHeaders / WSGITrustedProxies handling, applied to the output of
   * `headersToEnviron` (modified in place and returned). `trustedHeaders` are header names as
   * configured; `proxies` null means every peer is trusted (WSGITrustedProxies not set).
   * Untrusted peers: the named headers, and every alias of them mod_wsgi knows, are removed.
   * Trusted: REMOTE_ADDR from X-Forwarded-For / X-Real-IP (walking back over trusted hops),
   * scheme from X-Forwarded-Proto / X-Forwarded-Scheme / X-Scheme / X-Forwarded-SSL / HTTPS,
   * HTTP_HOST from X-Forwarded-Host, SERVER_PORT from X-Forwarded-Port, SCRIPT_NAME from
   * X-Script-Name. Returns the extra keys to set in `ProxyOverrides`.
   */
  applyTrustedProxyHeaders(
    environ: string[],
    remoteAddress: string,
    trustedHeaders: readonly string[],
    proxies: ProxyList | null,
  ): ProxyOverrides;

  /**
   * Decode and normalise the path part of a request target as Apache does before mapping:
   * `%XX` decoded (bad escapes -> 400; `%2F` per `encodedSlashes`; `%00` -> 404), `//` kept
   * (Apache collapses only while matching), `.`/`..` segments resolved (above the root -> 400).
   */
  normalizePath(rawPath: string, encodedSlashes: EncodedSlashes): NormalizedPath;

  /**
   * LimitRequestBody / WSGIChunkedRequest verdict before any body byte is read:
   * 0 = proceed, 413 = declared length over the limit, 411 = chunked body while
   * chunked requests are not accepted. `limit` 0 means unlimited; `declaredLength` -1 unknown.
   */
  bodyVerdict(declaredLength: number, chunked: boolean, limit: number, acceptChunked: boolean): 0 | 411 | 413;
}
