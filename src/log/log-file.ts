/**
 * Where log lines go: an append-only file (buffered for the access log, written through for
 * the error log), standard error, or a piped command (`|rotatelogs ...`, `|logger -t web`),
 * as Apache's piped logs: the command runs under /bin/sh with the lines on its standard input
 * and is started again if it dies.
 */
import * as fs from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { NodewsgiError } from "../errors";

export interface LogTarget {
  /** Append text (one or more complete lines). */
  write(text: string): void;
  /** Open the file again under its name (after logrotate moved it); no-op for pipes and stderr. */
  reopen(): void;
  /** Write out what is buffered and release the file or pipe. */
  close(): Promise<void>;
}

/** Largest amount buffered before a write is started at once. */
const HIGH_WATER = 64 * 1024;

/** How a broken log target is reported: once, on stderr (the error log may be the broken one). */
function complain(what: string, err: unknown): void {
  try {
    process.stderr.write(`nodewsgi: cannot write ${what}: ${(err as Error)?.message ?? String(err)}\n`);
  } catch {
    /* nowhere left to say it */
  }
}

/**
 * The access log's file: lines are gathered and written with one asynchronous write per
 * turn of the event loop (or per 64 KiB), never a synchronous write per request. At most one
 * write is in flight, so lines land in order.
 */
export class BufferedLogFile implements LogTarget {
  private fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private scheduled = false;
  private stale: number[] = [];
  private closed = false;
  private failed = false;
  private idle: (() => void)[] = [];
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, "a", 0o644);
  }

  write(text: string): void {
    if (this.closed) return;
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= HIGH_WATER) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Start writing what is pending (no-op while a write is in flight: its end continues). */
  flush(): void {
    if (this.writing || this.pending.length === 0) {
      if (!this.writing) this.settle();
      return;
    }
    const data = Buffer.from(this.pending.length === 1 ? this.pending[0] : this.pending.join(""), "utf8");
    this.pending = [];
    this.pendingBytes = 0;
    this.writing = true;
    this.writeAll(this.fd, data, 0);
  }

  private writeAll(fd: number, data: Buffer, at: number): void {
    fs.write(fd, data, at, data.length - at, null, (err, n) => {
      if (!err && at + n < data.length) return this.writeAll(fd, data, at + n);
      if (err && !this.failed) {
        this.failed = true;
        complain(`access log ${this.path}`, err);
      }
      this.writing = false;
      for (const old of this.stale.splice(0)) closeQuietly(old);
      this.flush();
    });
  }

  private settle(): void {
    if (this.pending.length === 0 && !this.writing) for (const w of this.idle.splice(0)) w();
  }

  reopen(): void {
    if (this.closed) return;
    let fd: number;
    try {
      fd = fs.openSync(this.path, "a", 0o644);
    } catch (err) {
      complain(`access log ${this.path} (reopen)`, err);
      return;
    }
    // A write in flight still targets the old descriptor: close it once that write is done.
    if (this.writing) this.stale.push(this.fd);
    else closeQuietly(this.fd);
    this.fd = fd;
    this.failed = false;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.idle.push(() => {
        this.closed = true;
        closeQuietly(this.fd);
        resolve();
      });
      this.flush();
    });
  }
}

/** The error log's file: written through (a crash must not lose the line that explains it). */
export class DirectLogFile implements LogTarget {
  private fd: number;
  private readonly owned: boolean;

  /** A path, or a descriptor that stays open (2: standard error). */
  constructor(readonly target: string | number) {
    this.owned = typeof target === "string";
    this.fd = typeof target === "string" ? fs.openSync(target, "a", 0o644) : target;
  }

  write(text: string): void {
    try {
      fs.writeSync(this.fd, text);
    } catch {
      // A full disk or closed stderr must never take the server down with it.
    }
  }

  reopen(): void {
    if (!this.owned) return;
    try {
      const fd = fs.openSync(this.target as string, "a", 0o644);
      closeQuietly(this.fd);
      this.fd = fd;
    } catch (err) {
      complain(`error log ${String(this.target)} (reopen)`, err);
    }
  }

  close(): Promise<void> {
    if (this.owned) closeQuietly(this.fd);
    return Promise.resolve();
  }
}

/** `|command`: lines go to the command's standard input; it is started again if it exits. */
export class PipedLog implements LogTarget {
  private child: ChildProcess | null = null;
  private closed = false;

  constructor(readonly command: string) {
    this.start();
  }

  private start(): ChildProcess {
    const child = spawn("/bin/sh", ["-c", this.command], { stdio: ["pipe", "inherit", "inherit"] });
    child.on("error", (err) => complain(`to piped log '${this.command}'`, err));
    child.stdin?.on("error", () => undefined); // EPIPE when it died: the exit handler restarts it
    child.on("exit", () => {
      if (this.child === child) this.child = null;
    });
    this.child = child;
    return child;
  }

  write(text: string): void {
    if (this.closed) return;
    const child = this.child ?? this.start();
    child.stdin?.write(text);
  }

  reopen(): void {}

  close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGTERM");
        resolve();
      }, 2000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin?.end();
    });
  }
}

/**
 * Open a configured log target: `|command`, or a path (`buffered` for access logs). syslog is
 * not supported: say so with the advice to pipe into logger(1).
 */
export function openLogTarget(target: string, buffered: boolean): LogTarget {
  if (target.startsWith("|")) {
    const command = target.slice(1).trim();
    if (command === "") throw new NodewsgiError("E_LOG_TARGET", `empty piped log command '${target}'`);
    return new PipedLog(command);
  }
  if (/^syslog(:|$)/.test(target)) {
    throw new NodewsgiError("E_LOG_TARGET", `'${target}': syslog logging is not supported; use a piped logger instead, e.g. "|logger -t nodewsgi"`);
  }
  try {
    return buffered ? new BufferedLogFile(target) : new DirectLogFile(target);
  } catch (err) {
    throw new NodewsgiError("E_LOG_TARGET", `cannot open log file ${target}: ${(err as Error).message}`, { cause: err });
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}
