/**
 * The server's error log as Apache writes it, for `nodewsgi serve`:
 *
 *   [Sat Nov 21 09:10:00.123456 2026] [wsgi:error] [pid 123:tid 4] [process app] [client 127.0.0.1:5000] [R:AbCdEfGhIjK] message
 *
 * - LogLevel with per-module levels (`LogLevel warn wsgi:info`); notice is always written, as
 *   Apache writes startup and shutdown notices to a file error log whatever the level.
 * - Lines carry where they came from (LogOrigin): the pid of the process (a daemon child's,
 *   not the supervisor's), the thread (worker-thread application groups) and, for daemon
 *   process groups, the group's name. Plain `log()` is this thread of this process.
 * - Multi-line messages become one log line per line, each with the full prefix.
 * - Targets: a file (written through), standard error, or `|command` (see ./log-file).
 * - `reopen()` opens the file again (SIGUSR1 after logrotate).
 */
import { threadId } from "node:worker_threads";
import type { ErrorLog, LogLevel } from "./error-log";
import { DirectLogFile, openLogTarget, type LogTarget } from "./log-file";

const LEVELS: readonly LogLevel[] = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"];
const NOTICE = LEVELS.indexOf("notice");

/** Where a log line was produced. Omitted fields: this process, this thread, no daemon group. */
export interface LogOrigin {
  readonly pid?: number;
  readonly tid?: number;
  /** The daemon process group (WSGIDaemonProcess name). */
  readonly process?: string;
}

/** An ErrorLog that can write lines on behalf of another thread or process. */
export interface OriginErrorLog extends ErrorLog {
  logFrom(origin: LogOrigin, level: LogLevel, module: string, message: string): void;
}

export function isOriginErrorLog(log: ErrorLog): log is OriginErrorLog {
  return typeof (log as Partial<OriginErrorLog>).logFrom === "function";
}

/**
 * Log on behalf of `origin`: through `logFrom` when the log knows how, else with the origin
 * folded into the message (any ErrorLog works, tests' doubles included).
 */
export function logFrom(log: ErrorLog, origin: LogOrigin, level: LogLevel, module: string, message: string): void {
  if (isOriginErrorLog(log)) log.logFrom(origin, level, module, message);
  else log.log(level, module, originTag(origin) + message);
}

function originTag(o: LogOrigin): string {
  let s = "";
  if (o.pid !== undefined && o.pid !== process.pid) s += `[pid ${o.pid}${o.tid ? `:tid ${o.tid}` : ""}] `;
  else if (o.tid) s += `[tid ${o.tid}] `;
  if (o.process) s += `[process ${o.process}] `;
  return s;
}

/** Module names as LogLevel takes them: `wsgi`, `mod_wsgi`, `wsgi_module` are one module. */
export function normalizeModule(name: string): string {
  return name.replace(/^mod_/, "").replace(/_module$/, "").toLowerCase();
}

export interface ApacheErrorLogOptions {
  readonly level?: LogLevel;
  /** Per-module thresholds (`wsgi:info`), keyed by module name. */
  readonly moduleLevels?: ReadonlyMap<string, LogLevel>;
}

export class ApacheErrorLog implements OriginErrorLog {
  private readonly threshold: number;
  private readonly moduleThresholds = new Map<string, number>();
  private readonly out: LogTarget;

  /** `target`: a path, `|command`, or a file descriptor (2: standard error). */
  constructor(target: string | number, options: ApacheErrorLogOptions = {}) {
    this.out = typeof target === "number" ? new DirectLogFile(target) : openLogTarget(target, false);
    this.threshold = LEVELS.indexOf(options.level ?? "warn");
    for (const [m, l] of options.moduleLevels ?? []) this.moduleThresholds.set(normalizeModule(m), LEVELS.indexOf(l));
  }

  /** Would a line at this level from this module be written? */
  enabled(level: LogLevel, module: string): boolean {
    const n = LEVELS.indexOf(level);
    if (n === NOTICE) return true;
    const t = this.moduleThresholds.size > 0 ? this.moduleThresholds.get(normalizeModule(module)) ?? this.threshold : this.threshold;
    return n <= t;
  }

  log(level: LogLevel, module: string, message: string): void {
    this.logFrom(SELF, level, module, message);
  }

  logFrom(origin: LogOrigin, level: LogLevel, module: string, message: string): void {
    if (!this.enabled(level, module)) return;
    const pid = origin.pid ?? process.pid;
    const tid = origin.tid ?? (origin.pid === undefined ? threadId : 0);
    const head = `[${errorLogTime()}] [${module}:${level}] [pid ${pid}${tid ? `:tid ${tid}` : ""}] ${origin.process ? `[process ${origin.process}] ` : ""}`;
    if (message.indexOf("\n") < 0) {
      this.out.write(head + stripCr(message) + "\n");
      return;
    }
    let text = "";
    for (const line of message.split("\n")) text += head + stripCr(line) + "\n";
    this.out.write(text);
  }

  reopen(): void {
    this.out.reopen();
  }

  close(): void {
    void this.out.close();
  }

  /** close(), for callers that can wait for a piped logger to finish. */
  closeAsync(): Promise<void> {
    return this.out.close();
  }
}

const SELF: LogOrigin = {};

function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Apache's error log timestamp: `Sat Nov 21 09:10:00.123456 2026` (µs from the hrtime clock). */
export function errorLogTime(): string {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const d = new Date(Math.floor(us / 1000));
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(us % 1_000_000, 6)} ${d.getFullYear()}`;
}
