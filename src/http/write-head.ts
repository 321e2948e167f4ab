/**
 * Writing a head through a ResponseSink: `writeErrorHead` marks the server's own error and
 * redirect pages (httpd's ap_send_error_response), which only `Header always` rules touch.
 */
import type { HeaderPair, ResponseSink } from "./types";

export function writeHead(sink: ResponseSink, status: number, reason: string, headers: readonly HeaderPair[]): void {
  sink.writeHead(status, reason, headers);
}

export function writeErrorHead(sink: ResponseSink, status: number, reason: string, headers: readonly HeaderPair[]): void {
  if (sink.writeErrorHead) sink.writeErrorHead(status, reason, headers);
  else sink.writeHead(status, reason, headers);
}
