/**
 * What hosts the application groups inside a daemon child: a ProcessHost (%{GLOBAL} on the
 * child's main thread, other application groups on worker threads), behind one factory so the
 * child's connection handling does not care which host it is.
 */
import type { ApplicationHost } from "./types";
import type { ErrorLog } from "../log/error-log";
import { ProcessHost } from "./process-host";

export function createDaemonHost(log: ErrorLog, threads: number): ApplicationHost {
  // `threads` requests per process may be in flight; each application group may take them all.
  return new ProcessHost({ log, threads: Math.max(1, threads) });
}
