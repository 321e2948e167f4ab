/**
 * AddDefaultCharset: httpd's ap_make_content_type adds `; charset=NAME` to a Content-Type that
 * mentions `text/plain` or `text/html` and names no charset, for every response of the
 * request's section (application responses and static files; its own error pages and listings
 * name a charset already).
 */
import type { HeaderPair, ResponseSink } from "../http/types";
import { wrapSink } from "../http/sink-wrapper";

/** The Content-Type httpd would send for `type` under `AddDefaultCharset charset`. */
export function withCharset(type: string, charset: string): string {
  if (/charset=/i.test(type) || !/text\/(plain|html)/i.test(type)) return type;
  return `${type}; charset=${charset}`;
}

/** A sink whose Content-Type gets the default charset when it needs one. */
export function withDefaultCharset(sink: ResponseSink, charset: string): ResponseSink {
  // The server's own pages name their charset already: writeErrorHead passes them on as they are.
  return wrapSink(sink, {
    writeHead: (status, reason, headers) => {
      let out: HeaderPair[] | null = null;
      for (let i = 0; i < headers.length; i++) {
        const [name, value] = headers[i];
        if (name.length !== 12 || name.toLowerCase() !== "content-type") continue;
        const v = withCharset(value, charset);
        if (v !== value) (out ??= [...headers])[i] = [name, v];
      }
      sink.writeHead(status, reason, out ?? headers);
    },
  });
}
