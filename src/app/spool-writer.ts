/**
 * Writing a request body to its spool file through a few reusable slabs.
 *
 * The front end lends each chunk only for the duration of its callback (uWS detaches the
 * ArrayBuffer when the callback returns), so every byte is copied once. Copying into a fresh
 * Buffer per chunk made a 1 GB upload allocate 1 GB of short-lived ArrayBuffers: V8 only
 * collects young ArrayBuffers after 32 MiB of them (2 x its maximum semi-space), and counted
 * as external memory they started a full mark-compact every few dozen megabytes. The slabs
 * here are allocated once per body (at most `maxSlabs`, as many as the disk lags behind the
 * client) and reused: the memory an upload holds is bounded by the slabs, whatever its size.
 *
 * Flow control: when the free room left (the slab being filled plus the free and not yet
 * allocated slabs) is below `headroom`, the body is paused until a write returns a slab.
 * A chunk larger than the free room still fits: the missing slabs are allocated once, beyond
 * the set, and dropped after their write (`extraSlabs` counts them).
 */
import * as fs from "node:fs";
import { NodewsgiError } from "../errors";

/** How the slabs are written: all of `views`, in order, at the file's current position. */
export type WriteVector = (fd: number, views: Buffer[], cb: (err: Error | null, written: number) => void) => void;

export interface SpoolWriterOptions {
  /** Bytes per slab (default 256 KiB). */
  readonly slabSize?: number;
  /** Slabs kept for reuse (default 8: 2 MiB per body being spooled). */
  readonly maxSlabs?: number;
  /**
   * Pause the body while less room than this is free (default 512 KiB: the largest chunk
   * uWS delivers, its receive buffer; node:http's are 64 KiB).
   */
  readonly headroom?: number;
  /** The writer (default fs.writev); tests give a slow one. */
  readonly writev?: WriteVector;
}

/** What the writer pauses and resumes. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

interface Slab {
  readonly buf: Buffer;
  /** Bytes filled. */
  len: number;
  /** One of the reusable set (returned to `free` after its write), not an extra one. */
  readonly pooled: boolean;
}

const DEFAULT_SLAB = 256 * 1024;
const DEFAULT_SLABS = 8;
const DEFAULT_HEADROOM = 512 * 1024;

const writevAll: WriteVector = (fd, views, cb) => fs.writev(fd, views, null, cb);

export class SpoolWriter {
  private readonly slabSize: number;
  private readonly maxSlabs: number;
  private readonly headroom: number;
  private readonly writev: WriteVector;
  /** Slabs of the set that were allocated (never more than maxSlabs). */
  private allocated = 0;
  private readonly free: Slab[] = [];
  private filling: Slab | null = null;
  /** Filled slabs waiting for the disk, oldest first. */
  private readonly queue: Slab[] = [];
  private inFlight: Slab[] | null = null;
  private paused = false;
  private stopped = false;
  private failedWith: Error | null = null;
  private drained: (() => void) | null = null;
  private idle: (() => void) | null = null;
  /** Slabs allocated beyond the set for a chunk larger than the free room (tests read it). */
  extraSlabs = 0;
  /** How many times the body was paused (tests read it). */
  pauses = 0;
  /** The most bytes held at once, copied and not yet written (tests read it). */
  peakHeld = 0;
  private held = 0;

  /**
   * @param onError  called once with the first write error; nothing more is written after it
   */
  constructor(
    private readonly fd: number,
    private readonly flow: FlowControl,
    private readonly onError: (err: Error) => void,
    opts: SpoolWriterOptions = {},
  ) {
    this.slabSize = opts.slabSize ?? DEFAULT_SLAB;
    this.maxSlabs = opts.maxSlabs ?? DEFAULT_SLABS;
    this.headroom = opts.headroom ?? DEFAULT_HEADROOM;
    this.writev = opts.writev ?? writevAll;
    // Room below the headroom could never come back (the body would stay paused), and empty
    // slabs would never hold a byte.
    if (!(this.slabSize >= 1) || !(this.maxSlabs >= 1) || !(this.headroom <= this.maxSlabs * this.slabSize)) {
      throw new NodewsgiError("E_SPOOL_OPTIONS", `spool slabs: need slabSize >= 1, maxSlabs >= 1 and headroom <= maxSlabs * slabSize (got ${this.slabSize}, ${this.maxSlabs}, ${this.headroom})`);
    }
  }

  /** Copy `chunk` (lent: valid during this call only) and write it after what came before. */
  push(chunk: Uint8Array): void {
    if (this.stopped) return;
    let at = 0;
    while (at < chunk.length) {
      let slab = this.filling;
      if (slab === null) slab = this.filling = this.takeSlab();
      const n = Math.min(slab.buf.length - slab.len, chunk.length - at);
      slab.buf.set(n === chunk.length ? chunk : chunk.subarray(at, at + n), slab.len);
      slab.len += n;
      at += n;
      if (slab.len === slab.buf.length) {
        this.queue.push(slab);
        this.filling = null;
      }
    }
    this.held += chunk.length;
    if (this.held > this.peakHeld) this.peakHeld = this.held;
    this.writeNext();
    if (!this.paused && this.room() < this.headroom) {
      this.paused = true;
      this.pauses++;
      this.flow.pause();
    }
  }

  /** Calls `done` once everything pushed is on disk (never after a write error). */
  finish(done: () => void): void {
    this.drained = done;
    this.writeNext();
  }

  /** Stop writing (the body was refused or the client left); a write in flight just ends. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.filling = null;
    this.free.length = 0;
  }

  /** Calls `cb` once no write is outstanding: the descriptor may be closed then. */
  whenIdle(cb: () => void): void {
    if (this.inFlight === null) cb();
    else this.idle = cb;
  }

  private room(): number {
    const filling = this.filling === null ? 0 : this.filling.buf.length - this.filling.len;
    return filling + (this.free.length + this.maxSlabs - this.allocated) * this.slabSize;
  }

  private takeSlab(): Slab {
    const reused = this.free.pop();
    if (reused !== undefined) {
      reused.len = 0;
      return reused;
    }
    if (this.allocated < this.maxSlabs) {
      this.allocated++;
      return { buf: Buffer.allocUnsafe(this.slabSize), len: 0, pooled: true };
    }
    this.extraSlabs++;
    return { buf: Buffer.allocUnsafe(this.slabSize), len: 0, pooled: false };
  }

  private writeNext(): void {
    if (this.inFlight !== null || this.stopped || this.failedWith !== null) return;
    // With the disk idle, a partly filled slab goes now rather than waiting for more bytes.
    if (this.queue.length === 0 && this.filling !== null && this.filling.len > 0) {
      this.queue.push(this.filling);
      this.filling = null;
    }
    if (this.queue.length === 0) {
      const done = this.drained;
      this.drained = null;
      done?.();
      return;
    }
    const batch = this.queue.splice(0, this.queue.length);
    this.inFlight = batch;
    this.writeBatch(batch, 0);
  }

  /** Writes `batch` from byte `skip` on (a short write continues where it stopped). */
  private writeBatch(batch: Slab[], skip: number): void {
    const views: Buffer[] = [];
    let left = skip;
    for (const s of batch) {
      if (left >= s.len) {
        left -= s.len;
        continue;
      }
      views.push(s.buf.subarray(left, s.len));
      left = 0;
    }
    let want = 0;
    for (const v of views) want += v.length;
    this.writev(this.fd, views, (err, written) => {
      if (err) return this.fail(err);
      if (written < want && !this.stopped) return this.writeBatch(batch, skip + written);
      this.inFlight = null;
      for (const s of batch) {
        this.held -= s.len;
        if (s.pooled && !this.stopped) this.free.push(s);
      }
      const idle = this.idle;
      this.idle = null;
      idle?.();
      if (this.stopped) return;
      if (this.paused && this.room() >= this.headroom) {
        this.paused = false;
        this.flow.resume();
      }
      this.writeNext();
    });
  }

  private fail(err: Error): void {
    this.inFlight = null;
    this.failedWith = err;
    this.drained = null;
    const idle = this.idle;
    this.idle = null;
    idle?.();
    if (!this.stopped) this.onError(err);
  }
}
