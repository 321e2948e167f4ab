/**
 * The one way to wrap a ResponseSink: everything passes on to the wrapped sink except what the
 * wrapper replaces, the optional methods included, so no wrapper loses the mark of the
 * server's own pages (writeErrorHead) or the ErrorDocument hook (serverError).
 */
import type { ResponseSink, SentListener } from "./types";
import { writeErrorHead } from "./write-head";

export type SinkOverrides = Partial<Pick<ResponseSink, "writeHead" | "writeErrorHead" | "serverError">>;

export function wrapSink(sink: ResponseSink, overrides: SinkOverrides): ResponseSink {
  const serverError = overrides.serverError ?? (sink.serverError ? sink.serverError.bind(sink) : undefined);
  return {
    get aborted() {
      return sink.aborted;
    },
    onAbort: (cb) => sink.onAbort(cb),
    writeHead: overrides.writeHead ?? ((status, reason, headers) => sink.writeHead(status, reason, headers)),
    writeErrorHead: overrides.writeErrorHead ?? ((status, reason, headers) => writeErrorHead(sink, status, reason, headers)),
    write: (chunk) => sink.write(chunk),
    drain: () => sink.drain(),
    end: (chunk) => sink.end(chunk),
    destroy: () => sink.destroy(),
    ...(serverError ? { serverError } : {}),
    ...(sink.afterSent ? { afterSent: (listener: SentListener) => sink.afterSent!(listener) } : {}),
  };
}
