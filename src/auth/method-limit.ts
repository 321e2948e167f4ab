/**
 * `<Limit method ...>` and `<LimitExcept method ...>`: the methods an access directive inside
 * applies to (httpd's cmd->limited bit mask, kept here as a set of names and whether it is
 * the complement). HEAD counts as GET, as httpd numbers it; names are case-sensitive (httpd
 * registers `get` as a method of its own). A directive outside any such section has no limit.
 */
import { NodewsgiError } from "../errors";

export interface MethodLimit {
  /** The methods listed; `except`: every method but these. */
  readonly methods: ReadonlySet<string>;
  readonly except: boolean;
}

/** httpd's built-in method numbers (ap_method_number_of); others must be registered. */
const BUILTIN = new Set([
  "GET", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND", "PROPPATCH",
  "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "VERSION-CONTROL", "CHECKOUT", "UNCHECKOUT", "CHECKIN",
  "UPDATE", "LABEL", "REPORT", "MKWORKSPACE", "MKACTIVITY", "BASELINE-CONTROL", "MERGE",
]);

const canonical = (m: string): string => (m === "HEAD" ? "GET" : m);

/** Does the limit cover this request method? No limit covers every method. */
export function limitCovers(limit: MethodLimit | undefined, method: string | undefined): boolean {
  if (limit === undefined || method === undefined) return true;
  return limit.methods.has(canonical(method)) !== limit.except;
}

function intersect(a: MethodLimit | undefined, b: MethodLimit): MethodLimit {
  if (a === undefined) return b;
  if (!a.except && !b.except) return { methods: new Set([...a.methods].filter((m) => b.methods.has(m))), except: false };
  if (a.except && b.except) return { methods: new Set([...a.methods, ...b.methods]), except: true };
  const [only, not] = a.except ? [b, a] : [a, b];
  return { methods: new Set([...only.methods].filter((m) => !not.methods.has(m))), except: false };
}

/** Methods covered by either (undefined: all methods). */
export function unionLimits(a: MethodLimit | undefined, b: MethodLimit | undefined): MethodLimit | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (!a.except && !b.except) return { methods: new Set([...a.methods, ...b.methods]), except: false };
  if (a.except && b.except) return { methods: new Set([...a.methods].filter((m) => b.methods.has(m))), except: true };
  const [only, not] = a.except ? [b, a] : [a, b];
  return { methods: new Set([...not.methods].filter((m) => !only.methods.has(m))), except: true };
}

function sameLimit(a: MethodLimit, b: MethodLimit): boolean {
  return a.except === b.except && a.methods.size === b.methods.size && [...a.methods].every((m) => b.methods.has(m));
}

/**
 * The limit inside `<Limit args>` (except: `<LimitExcept args>`) nested in `outer`, as
 * ap_limit_section works it out. Throws NodewsgiError("CONFIG_LIMIT") with httpd's message.
 */
export function nestedLimit(outer: MethodLimit | undefined, args: readonly string[], except: boolean, inHtaccess: boolean): MethodLimit {
  const tag = except ? "<LimitExcept" : "<Limit";
  const methods = new Set<string>();
  for (const m of args) {
    if (m === "TRACE" && !except) throw new NodewsgiError("CONFIG_LIMIT", "TRACE cannot be controlled by <Limit>, see TraceEnable");
    if (inHtaccess && m !== "HEAD" && !BUILTIN.has(m)) throw new NodewsgiError("CONFIG_LIMIT", `Could not register method '${m}' for ${tag} from .htaccess configuration`);
    methods.add(canonical(m));
  }
  const own: MethodLimit = { methods, except };
  const result = intersect(outer, own);
  if (!result.except && result.methods.size === 0) throw new NodewsgiError("CONFIG_LIMIT", `${tag}> directive excludes all methods`);
  if (outer !== undefined && sameLimit(outer, result)) throw new NodewsgiError("CONFIG_LIMIT", `${tag}> directive specifies methods already excluded`);
  return result;
}
