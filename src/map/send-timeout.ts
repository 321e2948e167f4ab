/**
 * Which Timeout bounds a response's sends. httpd switches the connection to the request's
 * virtual host's Timeout once the Host header has chosen it (ap_read_request), and a virtual
 * host without one (or with `Timeout 0`) has the main server's (fixup_virtual_hosts). The front
 * ends apply the main server's; only a configuration where a virtual host sets another value
 * pays for finding each request's host.
 */
import type { ServerConfig } from "../config/model";
import type { IncomingRequest } from "../http/types";
import { requestHostConfig } from "./host";
import { DEFAULT_TIMEOUT_S, MAX_TIMER_MS } from "../http/front-end";

/** The request's send timeout in ms, or null when every virtual host has the main server's. */
export function hostSendTimeouts(config: ServerConfig): ((req: IncomingRequest) => number) | null {
  const main = config.main.timeout?.value ?? DEFAULT_TIMEOUT_S;
  if (!config.virtualHosts.some((h) => (h.timeout?.value || main) !== main)) return null;
  return (req) => Math.min((requestHostConfig(config, req).timeout?.value || main) * 1000, MAX_TIMER_MS);
}
