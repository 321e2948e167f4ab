/**
 * `wsgi.errors`: a write-only text stream into the ErrorLog, as mod_wsgi's Log object: output
 * is line buffered, each complete line becomes one log entry at level error, module `wsgi`,
 * prefixed with the client (`[client 127.0.0.1:51234] `) as Apache's request log lines are.
 * A partial last line waits for `flush()` (runApplication flushes at the end of the request).
 */
import type { ErrorLog } from "../log/error-log";

export class WsgiErrors {
  private pending = "";

  constructor(
    private readonly log: ErrorLog,
    private readonly prefix = "",
  ) {}

  write(data: string | Uint8Array): void {
    const text = typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
    let buf = this.pending + text;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      this.emit(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
    this.pending = buf;
  }

  writelines(lines: Iterable<string | Uint8Array>): void {
    for (const line of lines) this.write(line);
  }

  flush(): void {
    if (this.pending !== "") {
      const rest = this.pending;
      this.pending = "";
      this.emit(rest);
    }
  }

  close(): void {
    this.flush();
  }

  private emit(line: string): void {
    this.log.log("error", "wsgi", this.prefix + (line.endsWith("\r") ? line.slice(0, -1) : line));
  }
}

/** Apache's request prefix for log lines: `[client ADDR:PORT] `. */
export function clientPrefix(remoteAddress: string, remotePort: number | string): string {
  return remoteAddress ? `[client ${remoteAddress}:${remotePort}] ` : "";
}
