import type { HeaderPair, ResponseSink } from "./types";
import { writeErrorHead } from "./write-head";

/** A sink that adds `extra` to whatever head is sent through it (mod_rewrite's Vary and Set-Cookie). */
export function withExtraHeaders(sink: ResponseSink, extra: readonly HeaderPair[]): ResponseSink {
  return {
    get aborted() {
      return sink.aborted;
    },
    onAbort: (cb) => sink.onAbort(cb),
    writeHead: (status, reason, headers) => sink.writeHead(status, reason, [...headers, ...extra]),
    writeErrorHead: (status, reason, headers) => writeErrorHead(sink, status, reason, [...headers, ...extra]),
    write: (chunk) => sink.write(chunk),
    drain: () => sink.drain(),
    end: (chunk) => sink.end(chunk),
    destroy: () => sink.destroy(),
    ...(sink.serverError ? { serverError: sink.serverError.bind(sink) } : {}),
  };
}
