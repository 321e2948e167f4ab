/**
 * Errors that no request catches, in a process or thread that hosts applications: a timer
 * callback that throws, a promise that rejects with no handler. Node's default is to end the
 * process (or the worker thread), which would take every request in flight there, of every
 * application, with it for one application's stray error. As mod_wsgi logs an exception raised
 * in a thread of an application's own and the process goes on, these are logged (with their
 * stack) and serving goes on.
 */
import type { ErrorLog } from "./error-log";

/** Install the handlers; `where` names the process in the log line. Returns their removal. */
export function logProcessFaults(log: ErrorLog, where: string): () => void {
  const report = (what: string, err: unknown): void => {
    const text = err instanceof Error ? err.stack ?? `${err.name}: ${err.message}` : describe(err);
    try {
      log.log("error", "wsgi", `mod_wsgi (pid=${process.pid}): ${what} in ${where}, outside any request's handling; serving goes on.\n${text}`);
    } catch {
      // The log itself failed: nothing better to do than go on.
    }
  };
  const onException = (err: unknown): void => report("Uncaught exception", err);
  const onRejection = (err: unknown): void => report("Unhandled promise rejection", err);
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * process.exit() while serving, from anywhere but the server's own shutdown (an application in
 * the front-end process, %{GLOBAL}): the server stops, as Node has it, but the error log says
 * so and names the caller, where the process would otherwise vanish without a line. Returns the
 * removal.
 */
export function logExitCalls(log: ErrorLog, expected: () => boolean): () => void {
  const realExit = process.exit;
  const exit = function (this: NodeJS.Process, code?: number | string | null): never {
    if (!expected()) {
      const stack = (new Error().stack ?? "").split("\n").slice(2).join("\n");
      try {
        log.log("crit", "core", `process.exit(${code ?? ""}) called while serving: the server stops now, ending every request in flight.\n${stack}`);
      } catch {
        // Exiting all the same.
      }
    }
    return realExit.call(this, code as number | undefined);
  };
  process.exit = exit as typeof process.exit;
  return () => {
    if (process.exit === exit) process.exit = realExit;
  };
}
