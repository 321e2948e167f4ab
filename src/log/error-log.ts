/**
 * The error log: Apache's ErrorLog, with Apache's level names. Lines look like Apache's:
 * `[Sat Nov 21 09:10:00.123456 2026] [wsgi:error] [pid 123] message`.
 */
import * as fs from "node:fs";

export type LogLevel = "emerg" | "alert" | "crit" | "error" | "warn" | "notice" | "info" | "debug";

const LEVELS: readonly LogLevel[] = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"];

export function isLogLevel(s: string): s is LogLevel {
  return (LEVELS as readonly string[]).includes(s);
}

export interface ErrorLog {
  log(level: LogLevel, module: string, message: string): void;
  /** Flush and close the underlying file (if any). */
  close(): void;
}

export class FileErrorLog implements ErrorLog {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private readonly threshold: number;

  /** `target` is a path, or a file descriptor (2 for stderr). */
  constructor(target: string | number, level: LogLevel = "warn") {
    this.threshold = LEVELS.indexOf(level);
    if (typeof target === "number") {
      this.fd = target;
      this.ownsFd = false;
    } else {
      this.fd = fs.openSync(target, "a");
      this.ownsFd = true;
    }
  }

  log(level: LogLevel, module: string, message: string): void {
    // As httpd's log.c: notice-level messages (start, stop, restarts) are logged whatever the LogLevel.
    if (level !== "notice" && LEVELS.indexOf(level) > this.threshold) return;
    const line = `[${timestamp()}] [${module}:${level}] [pid ${process.pid}] ${message}\n`;
    try {
      fs.writeSync(this.fd, line);
    } catch {
      // A full disk or closed stderr must never take the server down with it.
    }
  }

  close(): void {
    if (this.ownsFd) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
    }
  }
}

/** Apache's timestamp format: `Sat Nov 21 09:10:00.123456 2026`. */
function timestamp(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getDay()];
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getMonth()];
  return `${day} ${mon} ${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)} ${d.getFullYear()}`;
}
