/**
 * Per-request credit-window flow control for response bodies, shared by worker-thread groups
 * (worker-entry.ts / worker-group.ts) and daemon groups (daemon-child.ts / daemon-supervisor.ts).
 *
 * The rule: the application may have at most `window` bytes of one response unacknowledged.
 * write() returns false once that many are outstanding (it still sends the chunk: a write is
 * never refused, one larger than the window just leaves the application waiting longer), and
 * drain() resolves once credit brings the count back below the window, or the request is over.
 *
 * The front end acknowledges bytes only once the client's sink took them: when the sink pushes
 * back, the chunk is credited after its drain() (or the client leaving), and frames arriving
 * meanwhile wait in a backlog, so the sink is never written past its own backpressure.
 *
 * Both halves are base classes of the per-request objects rather than objects of their own, and
 * allocate nothing (no array, promise or closure) unless someone actually waits: a small response
 * costs nothing here.
 */
import type { ResponseSink } from "../http/types";

const RESOLVED: Promise<void> = Promise.resolve();

/** The application's side: a ResponseSink base counting unacknowledged bytes. */
export abstract class CreditWindow {
  /** Response bytes sent and not yet credited back. */
  protected unacked = 0;
  /** The request is over for the application (aborted, destroyed): nothing waits any more. */
  private windowReleased = false;
  /** Made on first use: most requests never wait. */
  private drainWaiters: (() => void)[] | null = null;

  constructor(readonly window: number) {}

  /** Counts `n` bytes sent; true while the application may write more without waiting. */
  protected sent(n: number): boolean {
    this.unacked += n;
    return this.unacked < this.window;
  }

  /** Resolves once the window has room again (at once when it has, or the request is over). */
  drain(): Promise<void> {
    if (this.windowReleased || this.unacked < this.window) return RESOLVED;
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve));
  }

  /** `n` bytes acknowledged by the front end. */
  credit(n: number): void {
    this.unacked -= n;
    if (this.unacked < this.window) this.wakeDrainers();
  }

  /** The request is over (abort, destroy): pending and later drain() calls resolve at once. */
  protected releaseWindow(): void {
    this.windowReleased = true;
    this.wakeDrainers();
  }

  private wakeDrainers(): void {
    const waiters = this.drainWaiters;
    if (waiters === null) return;
    this.drainWaiters = null;
    for (let i = 0; i < waiters.length; i++) waiters[i]!();
  }
}

/**
 * The front end's side for one request: response frames go to the client's sink in order;
 * writeChunk() credits a chunk the sink took, or, when the sink pushes back, waits for its
 * drain() (or clientLeft()) before crediting it, holding the frames that arrive meanwhile.
 * Subclasses apply frames (calling writeChunk for body bytes) and pass credit on.
 */
export abstract class ClientRelay<F> {
  /** Frames waiting behind a pushed-back write; null when nothing waits. */
  private backlog: F[] | null = null;
  /** Ends a pending drain() wait early when the client goes away. */
  private wakeOnLeave: (() => void) | null = null;

  /** Applies one frame to the client's sink (in order; calls writeChunk for body bytes). */
  protected abstract apply(frame: F): void;
  /** `n` bytes reached the client's sink: the application may send that many more. */
  protected abstract credit(n: number): void;
  /** The sink pushed back: the relay waits on the client, not on the application. */
  protected onHold(): void {}
  /** The sink drained (or the client left): the relay goes on. */
  protected onResume(): void {}

  /** True while a pushed-back write waits: frames must go through hold(), not apply(). */
  get holding(): boolean {
    return this.backlog !== null;
  }

  /** Queue a frame behind the pending drain. */
  hold(frame: F): void {
    (this.backlog as F[]).push(frame);
  }

  /** Write a body chunk; credit it now, or after the sink drains (frames queue meanwhile). */
  protected writeChunk(sink: ResponseSink, chunk: Uint8Array): void {
    const n = chunk.length;
    if (sink.write(chunk)) {
      this.credit(n);
      return;
    }
    this.backlog = [];
    this.onHold();
    const left = new Promise<void>((r) => (this.wakeOnLeave = r));
    Promise.race([sink.drain(), left]).then(() => this.resume(n));
  }

  /** The client went away: a pending drain() wait ends now (its backlog goes to a dead sink). */
  clientLeft(): void {
    const wake = this.wakeOnLeave;
    this.wakeOnLeave = null;
    wake?.();
  }

  /** The request is finished: forget the backlog, and end a pending wait (it credits nothing). */
  protected dropRelay(): void {
    this.backlog = null;
    this.clientLeft();
  }

  private resume(n: number): void {
    this.wakeOnLeave = null;
    const queued = this.backlog;
    if (queued === null) return; // finished meanwhile: nothing to credit or replay
    this.backlog = null;
    this.onResume();
    this.credit(n);
    for (let i = 0; i < queued.length; i++) {
      if (this.backlog !== null) {
        // A replayed write pushed back again: the rest waits for the next drain, in order.
        for (let j = i; j < queued.length; j++) (this.backlog as F[]).push(queued[j]!);
        return;
      }
      this.apply(queued[i]!);
    }
  }
}
