/**
 * Front-end selection: uWS by default, node:http when uWS cannot load (said once on stderr) or
 * when asked for with NODEWSGI_FRONTEND=node.
 */
import type { FrontEnd, FrontEndKind, FrontEndOptions, RequestHandler } from "./front-end";
import { NodeFrontEnd } from "./node-front-end";
import { UwsFrontEnd } from "./uws-front-end";
import { NodewsgiError } from "../errors";

export type FrontEndChoice = FrontEndKind | "auto";

export function frontEndChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): FrontEndChoice {
  const v = (env.NODEWSGI_FRONTEND ?? "auto").toLowerCase();
  if (v === "auto" || v === "uws" || v === "node") return v;
  throw new NodewsgiError("E_FRONTEND", `NODEWSGI_FRONTEND must be uws, node or auto, not '${v}'`);
}

export function createFrontEnd(
  choice: FrontEndChoice,
  handler: RequestHandler,
  options: FrontEndOptions,
  warn: (message: string) => void,
): FrontEnd {
  if (choice === "node") return new NodeFrontEnd(handler, options);
  try {
    return new UwsFrontEnd(handler, options);
  } catch (err) {
    if (choice === "uws") throw err;
    warn(`nodewsgi: uWebSockets.js unavailable (${(err as Error).message}); using the node:http front end`);
    return new NodeFrontEnd(handler, options);
  }
}
