/**
 * RequestReadTimeout body= (mod_reqtimeout's body stage) at run time: a request body must
 * arrive within an initial timeout, extended by 1 s per MinRate bytes received, up to a maximum.
 * The site attaches the request's limit to its body (withReadLimit); whoever reads the body
 * (collectBody, a daemon group's exchange) keeps a BodyDeadline from its first read and answers
 * 408 when it passes. Requests without a body never get one.
 */
import type { RequestBody } from "./types";
import type { ReadTimeoutStage } from "../config/request-read-timeout";

/** A body stage in the units the readers use. */
export interface BodyReadLimit {
  readonly initialMs: number;
  /** Infinity: no maximum. */
  readonly maxMs: number;
  /** How much one byte received extends the deadline (1000 / MinRate); 0 without MinRate. */
  readonly msPerByte: number;
}

/** The limit for a configured stage; null when it is off (`body=0`). */
export function bodyReadLimit(stage: ReadTimeoutStage): BodyReadLimit | null {
  if (stage.initial <= 0) return null;
  return {
    initialMs: stage.initial * 1000,
    maxMs: stage.max > 0 ? stage.max * 1000 : Infinity,
    msPerByte: stage.minRate > 0 ? 1000 / stage.minRate : 0,
  };
}

/** When a body being read must be complete by, as bytes arrive (mod_reqtimeout's extend_timeout). */
export class BodyDeadline {
  /** ms since the epoch. */
  at: number;
  private cap: number;
  constructor(private readonly limit: BodyReadLimit, now = Date.now()) {
    this.at = now + limit.initialMs;
    this.cap = now + limit.maxMs;
  }
  received(bytes: number): void {
    if (this.limit.msPerByte > 0 && this.at < this.cap) this.at = Math.min(this.cap, this.at + bytes * this.limit.msPerByte);
  }
  /** Time the server itself held the body back (not the client's) does not count. */
  postpone(ms: number): void {
    this.at += ms;
    this.cap += ms;
  }
}

/** A request body with the RequestReadTimeout body= limit of its request. */
class LimitedBody implements RequestBody {
  constructor(
    private readonly inner: RequestBody,
    readonly readLimit: BodyReadLimit,
    private readonly onTimeout: () => void,
  ) {}
  get declaredLength(): number {
    return this.inner.declaredLength;
  }
  get chunked(): boolean {
    return this.inner.chunked;
  }
  start(onChunk: (chunk: Uint8Array, last: boolean) => void): void {
    this.inner.start(onChunk);
  }
  pause(): void {
    this.inner.pause();
  }
  resume(): void {
    this.inner.resume();
  }
  readTimedOut(): void {
    this.onTimeout();
  }
}

/** `body` with `limit` attached; `onTimeout` (the log line) runs once its reader gives up on it. */
export function withReadLimit(body: RequestBody, limit: BodyReadLimit, onTimeout: () => void): RequestBody {
  return new LimitedBody(body, limit, onTimeout);
}
