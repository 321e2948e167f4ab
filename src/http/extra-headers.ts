import type { HeaderPair, ResponseSink } from "./types";
import { writeErrorHead } from "./write-head";
import { wrapSink } from "./sink-wrapper";
import { withMergedVary } from "./vary";

/** Headers the map phase puts in r->headers_out, which httpd's own error pages drop. */
const HEADERS_OUT = new Set(["vary", "authentication-info"]);

/** A sink that adds `extra` to whatever head is sent through it (mod_rewrite's Vary and Set-Cookie, mod_auth_digest's Authentication-Info). */
export function withExtraHeaders(sink: ResponseSink, extra: readonly HeaderPair[]): ResponseSink {
  // mod_rewrite puts Vary in r->headers_out, which httpd's own error pages drop, and cookies in
  // r->err_headers_out, which every response keeps.
  const onErrors = extra.filter(([name]) => !HEADERS_OUT.has(name.toLowerCase()));
  const varies = extra.filter(([name]) => name.toLowerCase() === "vary").map(([, value]) => value);
  return wrapSink(sink, {
    // httpd's fixup_vary makes the rewrite's Vary and the response's own one field.
    writeHead: (status, reason, headers) =>
      sink.writeHead(status, reason, varies.length === 0 ? [...headers, ...extra] : [...withMergedVary(headers, varies), ...extra.filter(([name]) => name.toLowerCase() !== "vary")]),
    writeErrorHead: (status, reason, headers) => writeErrorHead(sink, status, reason, [...headers, ...onErrors]),
  });
}

/**
 * A sink that adds mod_mime's Content-Language (AddLanguage, DefaultLanguage) to an
 * application's answers. An application's own Content-Language joins the list after them, as
 * httpd 2.4 + mod_wsgi send it (`de,x-own`); httpd's error pages drop it.
 */
export function withContentLanguage(sink: ResponseSink, languages: string): ResponseSink {
  return wrapSink(sink, {
    writeHead: (status, reason, headers) => {
      const own = headers.filter(([name]) => name.toLowerCase() === "content-language").map(([, v]) => v);
      const rest = own.length === 0 ? headers : headers.filter(([name]) => name.toLowerCase() !== "content-language");
      return sink.writeHead(status, reason, [...rest, ["Content-Language", [languages, ...own].join(",")]]);
    },
  });
}
