/**
 * Which RequestReadTimeout body= applies to a request: its virtual host's, else the main
 * server's, else mod_reqtimeout's default (body=20,MinRate=500), as mod_reqtimeout merges its
 * server configurations. Only a configuration where a virtual host sets another value pays for
 * finding each request's host.
 */
import type { HostConfig, ServerConfig } from "../config/model";
import type { IncomingRequest } from "../http/types";
import { DEFAULT_BODY_STAGE, type ReadTimeoutStage } from "../config/request-read-timeout";
import { bodyReadLimit, type BodyReadLimit } from "../http/body-read-timeout";
import { requestHostConfig } from "./host";

/** The request's body read limit (null: none); null itself when no request can have one. */
export function hostBodyReadLimits(config: ServerConfig): ((req: IncomingRequest) => BodyReadLimit | null) | null {
  const mainStage = config.main.readTimeoutBody?.value ?? DEFAULT_BODY_STAGE;
  const main = bodyReadLimit(mainStage);
  const own = new Map<HostConfig, BodyReadLimit | null>();
  for (const h of config.virtualHosts) {
    const s = h.readTimeoutBody?.value;
    if (s !== undefined && !sameStage(s, mainStage)) own.set(h, bodyReadLimit(s));
  }
  if (own.size === 0) return main === null ? null : () => main;
  return (req) => {
    const l = own.get(requestHostConfig(config, req));
    return l === undefined ? main : l;
  };
}

function sameStage(a: ReadTimeoutStage, b: ReadTimeoutStage): boolean {
  return a.initial === b.initial && a.max === b.max && a.minRate === b.minRate;
}
