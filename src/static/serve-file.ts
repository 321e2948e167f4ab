/**
 * Apache's default handler for a static file (`default_handler` in server/core.c plus the
 * byterange and conditional logic it relies on), writing to a ResponseSink.
 *
 * Behaviour recorded from Apache 2.4.71 (Debian):
 * - GET, HEAD and POST serve the file; OPTIONS answers 200 with `Allow`; any other method
 *   Apache knows gets 405, an unknown method 501 (both with `Allow`). `Allow` lists TRACE
 *   unless TraceEnable is Off for the server (httpd's make_allow). Those answers do not need
 *   the file: they are the same for a missing file or a directory (stat null or a directory).
 * - Error pages carry the ServerSignature footer of the request (ServeFileOptions.page).
 * - Headers in Apache's order: Last-Modified, ETag, Accept-Ranges, Content-Length,
 *   Content-Range, Content-Type (absent when no MIME type matches).
 * - 304 carries Last-Modified, ETag, Accept-Ranges; 412 the same plus `Content-Length: 0`
 *   and the Content-Type, with no body (it is not an error document).
 * - 416 is the canned error document. Apache sends no Content-Range with it; we add
 *   `Content-Range: bytes *\/LENGTH` as RFC 9110 asks, which no client can be hurt by.
 * The file is read in chunks at explicit positions, honouring backpressure; the file handle is
 * closed on completion, on error and when the client goes away.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type { HeaderPair, ResponseSink } from "../http/types";
import type { ErrorLog } from "../log/error-log";
import { fsPath, textOf } from "../engine/byte-string";
import {
  AnyStats, DEFAULT_FILE_ETAG, FileETagParts, digestETag, evaluateConditions, httpDate, ifRangeAllows,
  lastModifiedSeconds, makeETag, variantListValidator,
} from "./conditional";
import { STATIC_ALLOW, sendErrorPage, type ErrorPageContext } from "./error-page";
import { MimeTable, defaultMimeTable } from "./mime";
import { withCharset } from "./default-charset";
import { ByteRange, RangeLimits, evaluateRange } from "./range";
import { mergedHeaderValue } from "../http/header-values";
import { fixEncoding } from "./fix-encoding";
import { reasonPhrase } from "./status";

export interface StaticRequest {
  readonly method: string;
  /** Flat lower-case `[name, value, ...]`, as IncomingRequest.headers. */
  readonly headers: readonly string[];
}

export interface ServeFileOptions {
  /** MIME table (TypesConfig + AddType); the /etc/mime.types table by default. */
  mime?: MimeTable;
  /** Content type forced for this file (ForceType), bypassing the MIME table. */
  forceType?: string;
  /** The type mod_mime gave the file (fileType), null for none; the MIME table's when omitted. */
  contentType?: string | null;
  /** Content-Encoding (AddEncoding). */
  encoding?: string;
  /** Content-Language tags (AddLanguage), sent joined by `,`. */
  languages?: readonly string[];
  /** Sent first on every response, error pages included: MultiViews' Content-Location, Vary, TCN. */
  leadingHeaders?: readonly HeaderPair[];
  /** MultiViews chose this file: the variants' directory, whose mtime joins the ETag. */
  variantListDir?: AnyStats;
  /** FileETag; Apache 2.4's default (MTime Size) when omitted, null for None. */
  fileETag?: FileETagParts | null;
  /** Request time in ms since the epoch (tests); `Date.now()` by default. */
  now?: number;
  /** MaxRanges / MaxRangeOverlaps / MaxRangeReversals. */
  rangeLimits?: RangeLimits;
  /** Bytes read per chunk; 64 KiB by default. */
  chunkSize?: number;
  /**
   * AddDefaultCharset's charset: the response's own Content-Type gets it from the site's sink
   * (withDefaultCharset), but the type in each part of a multipart/byteranges body is written
   * here, and httpd's byterange filter gives the parts the same type (ap_make_content_type).
   */
  defaultCharset?: string;
  /** Where AH-style messages go (open failures, read errors). */
  log?: ErrorLog;
  /**
   * What the request's own pages show: asked for only when an error page or `Allow` is sent
   * (the common response needs neither, so the host lookup behind it is skipped).
   */
  page?: () => StaticPage;
}

/** The parts of the server's own answers that depend on the request's (virtual) host. */
export interface StaticPage {
  /** ServerSignature's footer as error pages end with it (`<hr>\n<address>...`), "" when Off. */
  readonly signature: string;
  readonly serverAdmin: string;
  /** TraceEnable is not Off for the server. */
  readonly traceEnabled: boolean;
}

const STATIC_ALLOW_NO_TRACE = STATIC_ALLOW.split(",").filter((m) => m !== "TRACE").join(",");

/** The default handler's `Allow`: httpd's make_allow lists TRACE only while TraceEnable allows it. */
export function staticAllow(traceEnabled: boolean): string {
  return traceEnabled ? STATIC_ALLOW : STATIC_ALLOW_NO_TRACE;
}

/** The type mod_mime gives a directory (DIR_MAGIC_TYPE). */
const DIRECTORY_TYPE = "httpd/unix-directory";

/** Apache's per-process multipart boundary (`ap_multipart_boundary`): 16 hex digits. */
const MULTIPART_BOUNDARY = crypto.randomBytes(8).toString("hex");

/** Methods Apache registers (anything else is M_INVALID -> 501). HEAD counts as GET. */
const KNOWN_METHODS = new Set([
  "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND",
  "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "VERSION-CONTROL", "CHECKOUT",
  "UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL", "REPORT", "MKWORKSPACE", "MKACTIVITY",
  "BASELINE-CONTROL", "MERGE",
]);

/** An error page with the request's footer (and `Allow` on 405/501); returns the status. */
function sendStaticError(sink: ResponseSink, status: number, method: string, page: (() => StaticPage) | undefined, extra: readonly HeaderPair[] = []): number {
  const p = page?.();
  const ctx: ErrorPageContext = p ? { method, signature: p.signature, serverAdmin: p.serverAdmin } : { method };
  const headers: readonly HeaderPair[] = status === 405 || status === 501 ? [["Allow", staticAllow(p?.traceEnabled ?? true)], ...extra] : extra;
  sendErrorPage(sink, status, ctx, headers);
  return status;
}

/** First value of a header in a flat lower-case list (Apache's apr_table_get). */
export function headerValue(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/**
 * Serve `filePath` (already mapped and stat'ed by the caller; pass `fs.stat(p, {bigint: true})`
 * for exact µs ETags). Resolves with the status sent once the response is finished or abandoned
 * and the file is closed.
 */
export async function serveFile(
  req: StaticRequest,
  filePath: string,
  stat: AnyStats | null,
  sink: ResponseSink,
  opts: ServeFileOptions = {},
): Promise<number> {
  const method = req.method;
  const header = (name: string) => mergedHeaderValue(req.headers, name);
  const mime = opts.mime ?? defaultMimeTable();
  // mod_mime types a directory as httpd/unix-directory (OPTIONS shows it); ForceType wins.
  const contentType = opts.forceType ?? (stat?.isDirectory() ? DIRECTORY_TYPE : opts.contentType !== undefined ? opts.contentType ?? undefined : mime.lookup(filePath));
  // What mod_mime set besides the type: sent after it, on everything but 304 and error pages.
  const entity: HeaderPair[] = [];
  if (contentType) entity.push(["Content-Type", contentType]);
  if (opts.encoding) entity.push(["Content-Encoding", fixEncoding(opts.encoding, header("accept-encoding"))]);
  if (opts.languages && opts.languages.length > 0) entity.push(["Content-Language", opts.languages.join(",")]);
  const lead = opts.leadingHeaders ?? [];
  if (method !== "GET" && method !== "HEAD" && method !== "POST") {
    if (!KNOWN_METHODS.has(method)) {
      opts.log?.log("error", "core", `AH00135: Invalid method in request ${method}`);
      return sendStaticError(sink, 501, method, opts.page, lead);
    }
    if (method === "OPTIONS") {
      sink.writeHead(200, "OK", [...lead, ["Allow", staticAllow(opts.page?.().traceEnabled ?? true)], ["Content-Length", "0"], ...entity]);
      sink.end();
      return 200;
    }
    return sendStaticError(sink, 405, method, opts.page, lead);
  }

  if (stat === null) return sendStaticError(sink, 404, method, opts.page);
  if (stat.isDirectory()) {
    opts.log?.log("info", "core", `AH00129: Attempt to serve directory: ${textOf(filePath)}`);
    return sendStaticError(sink, 404, method, opts.page, lead);
  }
  if (!stat.isFile()) {
    opts.log?.log("error", "core", `refusing to serve a file that is not a regular file: ${textOf(filePath)}`);
    return sendStaticError(sink, 403, method, opts.page, lead);
  }

  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(fsPath(filePath), "r");
  } catch (err) {
    opts.log?.log("error", "core", `AH00132: file permissions deny server access: ${textOf(filePath)} (${(err as Error).message})`);
    return sendStaticError(sink, 403, method, opts.page, lead);
  }

  // One close, started as early as possible (a client that leaves closes the file under a
  // pending read, which the close waits for); serveFile resolves only once it is done, so a
  // caller that sees the response finished never sees the descriptor still open.
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= fh.close().catch(() => undefined));
  let abortWake: () => void = () => undefined;
  const abortSignal = new Promise<void>((resolve) => (abortWake = resolve));
  sink.onAbort(() => {
    abortWake();
    void close();
  });

  try {
    if (sink.aborted) return 0;
    const nowMs = opts.now ?? Date.now();
    const nowSec = Math.floor(nowMs / 1000);
    const size = Number(stat.size);
    const lmSec = lastModifiedSeconds(stat, nowMs);
    const parts = opts.fileETag === undefined ? DEFAULT_FILE_ETAG : opts.fileETag;
    const vlv = opts.variantListDir ? variantListValidator(opts.variantListDir, nowMs, parts ?? undefined) : undefined;
    let etag: string | undefined;
    if (parts?.digest) {
      // A client gone mid-digest closes the file under the read: nothing to answer, nothing to log.
      const sha1 = await sha1Of(fh, size).catch((err: unknown) => {
        if (sink.aborted) return null;
        throw err;
      });
      if (sha1 === null) return 0;
      etag = digestETag(sha1, vlv);
    } else {
      etag = makeETag(stat, nowMs, parts, vlv);
    }
    if (sink.aborted) return 0;

    const validators: HeaderPair[] = [...lead, ["Last-Modified", httpDate(lmSec)]];
    if (etag) validators.push(["ETag", etag]);
    validators.push(["Accept-Ranges", "bytes"]);

    const cond = evaluateConditions({ method, header, etag, lastModifiedSec: lmSec, nowSec });
    if (cond === 304) {
      sink.writeHead(304, reasonPhrase(304), validators);
      sink.end();
      return 304;
    }
    if (cond === 412) {
      // HEAD keeps the file's length, as httpd sets it before it evaluates the conditions.
      sink.writeHead(412, reasonPhrase(412), [...validators, ["Content-Length", method === "HEAD" ? String(size) : "0"], ...entity]);
      sink.end();
      return 412;
    }

    const rangeHeader = header("range");
    const verdict =
      rangeHeader !== undefined && ifRangeAllows(header("if-range"), etag, lmSec, nowSec)
        ? evaluateRange(rangeHeader, size, opts.rangeLimits)
        : ({ kind: "full" } as const);

    if (verdict.kind === "unsatisfiable") {
      // httpd's 416 (from the byterange filter) leaves out MultiViews' headers.
      return sendStaticError(sink, 416, method, opts.page, [["Content-Range", `bytes */${size}`]]);
    }

    if (verdict.kind === "full") {
      sink.writeHead(200, "OK", [...validators, ["Content-Length", String(size)], ...entity]);
      if (method === "HEAD") sink.end();
      else await streamRanges(fh, sink, [{ start: 0, end: size - 1 }], [], abortSignal, opts);
      return 200;
    }

    const ranges = verdict.ranges;
    if (ranges.length === 1) {
      const r = ranges[0]!;
      sink.writeHead(206, reasonPhrase(206), [
        ...validators,
        ["Content-Length", String(r.end - r.start + 1)],
        ["Content-Range", `bytes ${r.start}-${r.end}/${size}`],
        ...entity,
      ]);
      if (method === "HEAD") sink.end();
      else await streamRanges(fh, sink, ranges, [], abortSignal, opts);
      return 206;
    }

    // multipart/byteranges, laid out exactly as Apache's byterange filter writes it.
    const partType = contentType && opts.defaultCharset ? withCharset(contentType, opts.defaultCharset) : contentType;
    const heads = ranges.map((r) =>
      Buffer.from(
        `\r\n--${MULTIPART_BOUNDARY}\r\n` +
          (partType ? `Content-type: ${partType}\r\n` : "") +
          `Content-range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`,
        "latin1",
      ),
    );
    const tail = Buffer.from(`\r\n--${MULTIPART_BOUNDARY}--\r\n`, "latin1");
    let total = tail.length;
    ranges.forEach((r, i) => (total += heads[i]!.length + r.end - r.start + 1));
    sink.writeHead(206, reasonPhrase(206), [
      ...validators,
      ["Content-Length", String(total)],
      ["Content-Type", `multipart/byteranges; boundary=${MULTIPART_BOUNDARY}`],
      ...entity.slice(contentType ? 1 : 0),
    ]);
    if (method === "HEAD") sink.end();
    else await streamRanges(fh, sink, ranges, heads, abortSignal, opts, tail);
    return 206;
  } finally {
    await close();
  }
}

/** FileETag Digest reads the whole file before the headers, as httpd's make_digest_etag does. */
async function sha1Of(fh: fs.promises.FileHandle, size: number): Promise<Buffer> {
  const hash = crypto.createHash("sha1");
  const buf = Buffer.allocUnsafe(Math.min(size, 64 * 1024) || 1);
  for (let pos = 0; pos < size; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest();
}

/**
 * Copy `ranges` of the file to the sink, each preceded by `heads[i]` when given, then `tail`.
 * Waits for drain on backpressure; stops quietly when the client is gone.
 */
async function streamRanges(
  fh: fs.promises.FileHandle,
  sink: ResponseSink,
  ranges: readonly ByteRange[],
  heads: readonly Buffer[],
  aborted: Promise<void>,
  opts: ServeFileOptions,
  tail?: Buffer,
): Promise<void> {
  const chunkSize = opts.chunkSize ?? 64 * 1024;
  const push = async (chunk: Uint8Array): Promise<boolean> => {
    if (sink.aborted) return false;
    if (!sink.write(chunk)) await Promise.race([sink.drain(), aborted]);
    return !sink.aborted;
  };
  try {
    for (let i = 0; i < ranges.length; i++) {
      const head = heads[i];
      if (head && !(await push(head))) return;
      const r = ranges[i]!;
      let pos = r.start;
      while (pos <= r.end) {
        const want = Math.min(chunkSize, r.end - pos + 1);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (sink.aborted) return;
        if (bytesRead === 0) {
          // The file shrank under us: the promised length cannot be met, so drop the connection.
          opts.log?.log("error", "core", "static file shorter than its stat: connection dropped");
          sink.destroy();
          return;
        }
        pos += bytesRead;
        if (!(await push(bytesRead === want ? buf : buf.subarray(0, bytesRead)))) return;
      }
    }
    if (sink.aborted) return;
    sink.end(tail);
  } catch (err) {
    if (sink.aborted) return;
    opts.log?.log("error", "core", `error reading static file: ${(err as Error).message}`);
    sink.destroy();
  }
}
