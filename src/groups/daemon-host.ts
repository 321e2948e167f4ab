/**
 * What hosts the application groups inside a daemon child. One factory, so the host can be
 * swapped (ProcessHost: %{GLOBAL} on the child's main thread, other groups on worker threads)
 * without touching the child's connection handling.
 */
import type { ApplicationHost } from "./types";
import type { ErrorLog } from "../log/error-log";
import { InThreadHost } from "./in-thread-host";

export function createDaemonHost(log: ErrorLog): ApplicationHost {
  return new InThreadHost(log);
}
