/**
 * `wsgi.input`: the request body with WSGI's synchronous file API.
 *
 * WSGI reads are synchronous, so the body is collected before the application is called:
 * small bodies in memory, larger ones spooled to an unlinked temporary file read back with
 * positional fs.readSync, so a huge upload costs a file, not memory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { RequestBody } from "../http/types";
import { NodewsgiError } from "../errors";
import { SpoolWriter, type SpoolWriterOptions } from "./spool-writer";
import { BodyDeadline } from "../http/body-read-timeout";
import { MAX_TIMER_MS } from "../http/front-end";

const EMPTY = Buffer.alloc(0);
const ITER_CHUNK = 64 * 1024;

/** A collected request body: random access by position, released with `dispose()`. */
export interface BodyBuffer {
  readonly length: number;
  /** Up to `size` bytes from `position` (fewer at the end). */
  readAt(position: number, size: number): Buffer;
  /** Free the memory or close the spool file. Idempotent. */
  dispose(): void;
  /** The spool file's descriptor, for a reader in another thread of this process; absent in memory. */
  readonly fd?: number;
}

class MemoryBody implements BodyBuffer {
  constructor(private data: Buffer) {}
  get length(): number {
    return this.data.length;
  }
  readAt(position: number, size: number): Buffer {
    return this.data.subarray(position, Math.min(this.data.length, position + size));
  }
  dispose(): void {
    this.data = EMPTY;
  }
}

class FileBody implements BodyBuffer {
  fd: number;
  constructor(fd: number, readonly length: number) {
    this.fd = fd;
  }
  readAt(position: number, size: number): Buffer {
    const n = Math.max(0, Math.min(size, this.length - position));
    if (n === 0 || this.fd < 0) return EMPTY;
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const r = fs.readSync(this.fd, out, got, n - got, position + got);
      if (r === 0) break;
      got += r;
    }
    return got === n ? out : out.subarray(0, got);
  }
  dispose(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = -1;
    }
  }
}

/** A body held in memory (for tests, and for bodies that arrive already complete). */
/**
 * A spool file another thread of this process already wrote: read by position, never closed
 * here (its owner closes it).
 */
export function borrowedFileBody(fd: number, length: number): BodyBuffer {
  const body = new FileBody(fd, length);
  // Disposing forgets the descriptor without closing it (its owner closes it): once the owner
  // may have, its number can belong to another file, so no read may reach it any more.
  return {
    length,
    fd,
    readAt: (p, n) => body.readAt(p, n),
    dispose: () => {
      body.fd = -1;
    },
  };
}

export function memoryBody(data: Uint8Array): BodyBuffer {
  return new MemoryBody(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

export interface CollectOptions {
  /** LimitRequestBody in bytes; 0 = unlimited. */
  readonly limit: number;
  /** Bodies over this many bytes are spooled to a temporary file. */
  readonly spoolThreshold: number;
  /** Directory for spool files (default os.tmpdir()). */
  readonly tmpDir?: string;
  /** Abort collection (client gone): rejects with E_BODY_ABORTED. */
  readonly signal?: AbortSignal;
  /** Give up when no byte arrives for this long: rejects with E_BODY_TIMEOUT (status 408). */
  readonly idleTimeoutMs?: number;
  /** The spool's slabs and flow control (tests make them small or the disk slow). */
  readonly spool?: SpoolWriterOptions;
}

/**
 * Read the whole body. Rejects with NodewsgiError E_BODY_TOO_LARGE (property `status` 413)
 * as soon as more than `limit` bytes have arrived (chunked bodies are cut off while being
 * read, as Apache does), and with E_BODY_ABORTED when `signal` fires. On rejection the body is
 * paused and nothing is kept: it rejects only once the spool file (if one was opened) is closed,
 * so a caller that sees the rejection holds no descriptor of it.
 */
export function collectBody(body: RequestBody, opts: CollectOptions): Promise<BodyBuffer> {
  const limit = opts.limit > 0 ? opts.limit : Infinity;
  if (body.declaredLength > limit) {
    return Promise.reject(tooLarge(body.declaredLength, limit));
  }
  return new Promise<BodyBuffer>((resolve, reject) => {
    let total = 0;
    let chunks: Buffer[] = [];
    // Small chunks are copied into a shared slab rather than one Buffer each: a body sent a few
    // bytes at a time (a million 1-byte chunks) would otherwise cost about 100 bytes per byte.
    let slab: Buffer | null = null;
    let slabUsed = 0;
    const keep = (chunk: Uint8Array): void => {
      if (chunk.length >= SMALL_CHUNK) {
        flushSlab();
        chunks.push(Buffer.from(chunk));
        return;
      }
      if (slab !== null && slabUsed + chunk.length > slab.length) flushSlab();
      // A body of known length needs no more than what is left of it.
      const left = body.declaredLength > 0 ? body.declaredLength - total + chunk.length : SLAB_BYTES;
      slab ??= Buffer.allocUnsafe(Math.max(chunk.length, Math.min(SLAB_BYTES, left)));
      slab.set(chunk, slabUsed);
      slabUsed += chunk.length;
    };
    const flushSlab = (): void => {
      if (slab === null || slabUsed === 0) return;
      chunks.push(slab.subarray(0, slabUsed));
      slab = null;
      slabUsed = 0;
    };
    let fd = -1;
    let spool: SpoolWriter | null = null;
    let settled = false;

    let idle: NodeJS.Timeout | undefined;
    // RequestReadTimeout body=: a deadline from the first read, extended as bytes arrive; its
    // timer is re-armed only when it fires early, not per chunk.
    const readLimit = body.readLimit;
    const deadline = readLimit === undefined ? undefined : new BodyDeadline(readLimit);
    let rateTimer: NodeJS.Timeout | undefined;
    const checkDeadline = (): void => {
      const left = deadline!.at - Date.now();
      if (left > 0) {
        rateTimer = setTimeout(checkDeadline, Math.min(left, MAX_TIMER_MS));
        return;
      }
      rateTimer = undefined;
      if (settled) return;
      body.readTimedOut?.();
      fail(readTimedOut());
    };
    if (deadline !== undefined) rateTimer = setTimeout(checkDeadline, Math.min(readLimit!.initialMs, MAX_TIMER_MS));
    const armIdle = (): void => {
      if (!opts.idleTimeoutMs) return;
      if (idle) idle.refresh();
      else idle = setTimeout(() => fail(timedOut(opts.idleTimeoutMs!)), opts.idleTimeoutMs);
    };
    const fail = (err: Error): void => {
      if (idle) clearTimeout(idle);
      if (rateTimer) clearTimeout(rateTimer);
      if (settled) return;
      settled = true;
      chunks = [];
      slab = null;
      body.pause();
      opts.signal?.removeEventListener("abort", onAbort);
      const closeFd = fd;
      if (closeFd < 0) return reject(err);
      fd = -1;
      // Close once the write in flight is done with the descriptor, then reject: a caller
      // that sees the rejection holds no descriptor of the spool file.
      const writer = spool!;
      writer.stop();
      writer.whenIdle(() => fs.close(closeFd, () => reject(err)));
    };
    const onAbort = (): void => fail(new NodewsgiError("E_BODY_ABORTED", "Client went away while the request body was being read"));
    if (opts.signal) {
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener("abort", onAbort, { once: true });
    }

    const finish = (): void => {
      if (idle) clearTimeout(idle);
      if (rateTimer) clearTimeout(rateTimer);
      if (spool === null) {
        settled = true;
        opts.signal?.removeEventListener("abort", onAbort);
        flushSlab();
        // A short chunked body alone in a slab keeps only its own bytes.
        const only = chunks.length === 1 ? chunks[0]! : null;
        const data = only === null ? Buffer.concat(chunks, total) : only.length * 2 < only.buffer.byteLength ? Buffer.from(only) : only;
        resolve(new MemoryBody(data));
        chunks = [];
        return;
      }
      spool.finish(() => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener("abort", onAbort);
        resolve(new FileBody(fd, total));
      });
    };

    try {
      armIdle();
      body.start((chunk, last) => {
        if (settled) return;
        armIdle();
        if (deadline !== undefined) deadline.received(chunk.length);
        total += chunk.length;
        if (total > limit) return fail(tooLarge(total, limit));
        if (chunk.length > 0) {
          // The front end lends its chunk for this call only: it is copied, into the spool's
          // reused slabs once the body is spooled.
          if (spool !== null) spool.push(chunk);
          else {
            keep(chunk);
            if (total > opts.spoolThreshold) {
              flushSlab();
              try {
                fd = openSpoolFile(opts.tmpDir ?? os.tmpdir());
              } catch (err) {
                return fail(err as Error);
              }
              spool = new SpoolWriter(fd, body, fail, opts.spool);
              for (const c of chunks) spool.push(c);
              chunks = [];
            }
          }
        }
        if (last) finish();
      });
    } catch (err) {
      fail(err as Error);
    }
  });
}

/** Chunks below this size are gathered into slabs of SLAB_BYTES while a body is kept in memory. */
const SMALL_CHUNK = 4096;
const SLAB_BYTES = 64 * 1024;

function timedOut(ms: number): NodewsgiError {
  const e = new NodewsgiError("E_BODY_TIMEOUT", `No request body data for ${ms} ms`);
  (e as NodewsgiError & { status: number }).status = 408;
  return e;
}

function readTimedOut(): NodewsgiError {
  const e = new NodewsgiError("E_BODY_TIMEOUT", "Request body read timeout (RequestReadTimeout body=)");
  (e as NodewsgiError & { status: number }).status = 408;
  return e;
}

function tooLarge(size: number, limit: number): NodewsgiError {
  const e = new NodewsgiError("E_BODY_TOO_LARGE", `Request body of ${size} bytes exceeds LimitRequestBody ${limit}`);
  (e as NodewsgiError & { status: number }).status = 413;
  return e;
}

function openSpoolFile(dir: string): number {
  const file = path.join(dir, `nodewsgi-body-${process.pid}-${randomBytes(6).toString("hex")}`);
  const fd = fs.openSync(file, "wx+", 0o600);
  // Unlinked at once: the data lives exactly as long as the descriptor, even after a crash.
  fs.unlinkSync(file);
  return fd;
}

/** The `wsgi.input` object. */
export class WsgiInput {
  private pos = 0;
  constructor(private readonly body: BodyBuffer) {}

  /** Bytes not yet read. */
  get remaining(): number {
    return this.body.length - this.pos;
  }

  /** Up to `size` bytes; all that is left when `size` is omitted or negative. */
  read(size?: number | null): Buffer {
    const n = size == null || size < 0 ? this.remaining : Math.min(size, this.remaining);
    if (n <= 0) return EMPTY;
    const out = this.body.readAt(this.pos, n);
    this.pos += out.length;
    return out;
  }

  /** One line including its `\n`, at most `size` bytes; an empty Buffer at the end. */
  readline(size?: number | null): Buffer {
    const max = size == null || size < 0 ? this.remaining : Math.min(size, this.remaining);
    if (max <= 0) return EMPTY;
    const parts: Buffer[] = [];
    let got = 0;
    while (got < max) {
      const block = this.body.readAt(this.pos + got, Math.min(8192, max - got));
      if (block.length === 0) break;
      const nl = block.indexOf(10);
      const take = nl >= 0 ? nl + 1 : block.length;
      parts.push(take === block.length ? block : block.subarray(0, take));
      got += take;
      if (nl >= 0) break;
    }
    this.pos += got;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, got);
  }

  /** Lines until at least `hint` bytes have been read (all lines when omitted or <= 0). */
  readlines(hint?: number | null): Buffer[] {
    const lines: Buffer[] = [];
    let total = 0;
    for (;;) {
      const line = this.readline();
      if (line.length === 0) break;
      lines.push(line);
      total += line.length;
      if (hint != null && hint > 0 && total >= hint) break;
    }
    return lines;
  }

  /** Iterating `wsgi.input` yields lines, as a Python file does. */
  *[Symbol.iterator](): Iterator<Buffer> {
    for (let line = this.readline(); line.length > 0; line = this.readline()) yield line;
  }

  /**
   * Async iteration yields the unread rest in chunks. A spooled body is read one chunk per turn
   * of the event loop, as a stream delivers it: without the turns, an application iterating
   * a large body held the thread (the front end's, in-thread) until the last chunk, and V8 could
   * not run the tasks that finish its collections, so the dead chunks piled up (a 1 GB body:
   * about 50 MiB of them instead of about 32).
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const spooled = this.body.fd !== undefined;
    for (let chunk = this.read(ITER_CHUNK); chunk.length > 0; chunk = this.read(ITER_CHUNK)) {
      yield chunk;
      if (spooled) await nextTurn();
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function createInput(buf: BodyBuffer): WsgiInput {
  return new WsgiInput(buf);
}
