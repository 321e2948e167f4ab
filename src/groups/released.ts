/**
 * What a finished request's record points to instead of its request, body, sink and resolver.
 *
 * A finished record can stay reachable for a while (a closure a sink or a socket keeps, a stale
 * hash table), and once V8 has promoted it to the old generation, whatever it still points to
 * survives every young-generation collection until the next full one: under load, young
 * collections then copy whole requests again and again. Pointing at these instead lets go of
 * everything at once, and anything that still writes through a released record is a no-op.
 */
import type { AppRequest } from "./types";
import type { RequestBody, ResponseSink } from "../http/types";

export const NOTHING = (): void => undefined;

/** An aborted sink: nothing can be written through it. */
export const RELEASED_SINK: ResponseSink = Object.freeze({
  aborted: true,
  onAbort: NOTHING,
  writeHead: NOTHING,
  write: () => false,
  drain: () => Promise.resolve(),
  end: NOTHING,
  destroy: NOTHING,
});

/** Frozen, environ included: a stray write through a finished record throws instead of leaking. */
export const RELEASED_REQUEST: AppRequest = Object.freeze({
  script: "",
  callable: "",
  applicationGroup: "",
  processGroup: "",
  method: "",
  environ: Object.freeze([]),
  urlScheme: "http",
  multithread: false,
  multiprocess: false,
  runOnce: false,
  bodyLimit: 0,
  logPrefix: "",
});

/** An empty body, already over. */
export const RELEASED_BODY: RequestBody = Object.freeze({
  declaredLength: 0,
  chunked: false,
  start: (onChunk: (chunk: Uint8Array, last: boolean) => void) => onChunk(new Uint8Array(0), true),
  pause: NOTHING,
  resume: NOTHING,
});
