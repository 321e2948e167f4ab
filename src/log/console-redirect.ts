/**
 * Application output into the error log, as mod_wsgi does with sys.stdout and sys.stderr:
 * each complete line becomes one error log entry (level error, module wsgi).
 *
 * - routeStdio: replaces `process.stdout.write` and `process.stderr.write` of this thread
 *   (so `console.*`, which writes through them, and direct writes are all caught). Used in
 *   worker threads of application groups and in daemon children, where nothing else writes
 *   to those streams.
 * - routeConsole: replaces the `console` methods only, leaving the streams to their owner.
 *   Used by `nodewsgi serve` in the front-end process (the %{GLOBAL} application group),
 *   whose own stdout messages keep going to stdout.
 *
 * A partial line waits for the rest until the current turn of the event loop is over.
 */
import { format, inspect } from "node:util";

export type LineWriter = (line: string) => void;

type WriteFn = (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;

/** Line-buffers text into `emit`. */
export class LineSplitter {
  private pending = "";
  private scheduled = false;

  constructor(private readonly emit: LineWriter) {}

  write(text: string): void {
    let buf = this.pending + text;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      this.emit(line.endsWith("\r") ? line.slice(0, -1) : line);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
    this.pending = buf;
    if (buf !== "" && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      }).unref();
    }
  }

  flush(): void {
    if (this.pending === "") return;
    const rest = this.pending;
    this.pending = "";
    this.emit(rest);
  }
}

export interface StdioRoute {
  /** The streams' own write functions, for output that must not loop back into the log. */
  readonly stdoutWrite: (text: string) => void;
  readonly stderrWrite: (text: string) => void;
  restore(): void;
}

export function routeStdio(emit: LineWriter): StdioRoute {
  const out = process.stdout as unknown as { write: WriteFn };
  const err = process.stderr as unknown as { write: WriteFn };
  const origOut = out.write;
  const origErr = err.write;
  const outLines = new LineSplitter(emit);
  const errLines = new LineSplitter(emit);
  const patched = (lines: LineSplitter): WriteFn =>
    function (chunk, encoding, cb) {
      const text = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : String(chunk);
      lines.write(text);
      const done = typeof encoding === "function" ? encoding : cb;
      if (typeof done === "function") process.nextTick(done as () => void);
      return true;
    };
  out.write = patched(outLines);
  err.write = patched(errLines);
  return {
    stdoutWrite: (text) => void origOut.call(process.stdout, text),
    stderrWrite: (text) => void origErr.call(process.stderr, text),
    restore() {
      outLines.flush();
      errLines.flush();
      out.write = origOut;
      err.write = origErr;
    },
  };
}

const CONSOLE_METHODS = ["log", "info", "debug", "warn", "error", "trace", "dir"] as const;

/** Replace the console methods with writers into `emit`; returns the undo. */
export function routeConsole(emit: LineWriter): () => void {
  const lines = new LineSplitter(emit);
  const c = console as unknown as Record<string, (...args: unknown[]) => void>;
  const saved = CONSOLE_METHODS.map((m) => [m, c[m]] as const);
  const write = (...args: unknown[]): void => lines.write(format(...args) + "\n");
  c.log = write;
  c.info = write;
  c.debug = write;
  c.warn = write;
  c.error = write;
  c.trace = (...args: unknown[]) => {
    const e = new Error(format(...args));
    e.name = "Trace";
    lines.write((e.stack ?? e.message) + "\n");
  };
  c.dir = (...args: unknown[]) => lines.write(inspect(args[0], { customInspect: false, ...(args[1] as object | undefined) }) + "\n");
  return () => {
    lines.flush();
    for (const [m, f] of saved) c[m] = f;
  };
}
