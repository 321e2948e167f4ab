/**
 * RequestReadTimeout (mod_reqtimeout): how long a client may take to send its request head and
 * its body. Each stage has an initial timeout in seconds, optionally extended by one second per
 * MinRate bytes received, up to a maximum. Parsed as mod_reqtimeout's set_reqtimeout_param does
 * (its order of checks and its wording, checked with `apache2 -t`).
 */
import { strtol } from "../auth/digest";
import { badValue } from "./errors";

/** One stage (header or body). Seconds; `max` 0: no maximum; `minRate` 0: no extension. */
export interface ReadTimeoutStage {
  readonly initial: number;
  readonly max: number;
  readonly minRate: number;
}

/** What one RequestReadTimeout line sets (stages it does not name are left as they were). */
export interface ReadTimeoutParams {
  header?: ReadTimeoutStage;
  body?: ReadTimeoutStage;
  /** handshake= was given: accepted, without effect (nodewsgi has no TLS). */
  handshake?: boolean;
}

/**
 * mod_reqtimeout's built-in defaults, in force when no RequestReadTimeout names the stage (as
 * with Debian's httpd, which loads the module by default).
 */
export const DEFAULT_HEADER_STAGE: ReadTimeoutStage = { initial: 20, max: 40, minRate: 500 };
export const DEFAULT_BODY_STAGE: ReadTimeoutStage = { initial: 20, max: 0, minRate: 500 };

/** Parse one argument (`key=value`) into `into`; throws a DirectiveProblem with httpd's message. */
export function parseReadTimeoutParam(arg: string, into: ReadTimeoutParams): void {
  const eq = arg.indexOf("=");
  if (eq < 0) throw badValue("Invalid RequestReadTimeout parameter. Parameter must be in the form 'key=value'");
  const key = arg.slice(0, eq).toLowerCase();
  const val = arg.slice(eq + 1);
  const fail = (msg: string) => badValue(`${arg}: ${msg}`);
  if (key !== "handshake" && key !== "header" && key !== "body") throw fail("Unknown RequestReadTimeout parameter");
  let initialStr = val;
  let rate = 0;
  const at = val.toLowerCase().indexOf(",minrate=");
  if (at >= 0) {
    initialStr = val.slice(0, at);
    rate = parseInt10(val.slice(at + ",minrate=".length), fail);
    if (rate === 0) throw fail("Minimum data rate must be larger than 0");
  }
  let max = 0;
  const dash = initialStr.indexOf("-");
  if (dash >= 0) {
    if (rate === 0) throw fail("Must set MinRate option if using timeout range");
    max = parseInt10(initialStr.slice(dash + 1), fail);
    initialStr = initialStr.slice(0, dash);
  }
  const initial = parseInt10(initialStr, fail);
  if (max > 0 && initial >= max) throw fail("Maximum timeout must be larger than initial timeout");
  if (key === "handshake") into.handshake = true;
  else into[key] = { initial, max, minRate: rate };
}

/** mod_reqtimeout's parse_int: C's strtol, the whole string, not negative. */
function parseInt10(s: string, fail: (msg: string) => Error): number {
  const r = strtol(s, 10);
  if (r.end === 0 || !/[0-9]/.test(s.slice(0, r.end))) throw fail(`Value '${s}' not numerical`);
  if (r.end !== s.length) throw fail(`Cannot parse '${s.slice(r.end)}'`);
  if (r.value < 0n) throw fail("Value must be non-negative");
  // Larger values are as good as forever; keep them finite for the timers.
  return Number(r.value > 100_000_000n ? 100_000_000n : r.value);
}
