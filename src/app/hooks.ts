/**
 * mod_wsgi's per-request hook scripts, the part that runs where the script lives: load the
 * script into an application group's ScriptCache (the same cache, and so the same module
 * instance, as that group's applications: mod_wsgi keys both by the script's path in one
 * interpreter), call the hook function, wait for a returned promise, and reduce the result to
 * a plain reply that can cross a thread boundary.
 *
 *   check_password(environ, user, password)  WSGIAuthUserScript (`AuthBasicProvider wsgi`)
 *   get_realm_hash(environ, user, realm)     WSGIAuthUserScript (`AuthDigestProvider wsgi`)
 *   groups_for_user(environ, user)           WSGIAuthGroupScript (`Require wsgi-group`)
 *   allow_access(environ, host)              WSGIAccessScript
 *   process_group / application_group / callable_object(environ)   WSGIDispatchScript
 *
 * `%{GLOBAL}` hooks run here in the front-end thread; other application groups run them in
 * their worker thread (./../groups/worker-entry.ts answers F_HOOK with this same function).
 * Hooks never run in a daemon process, as in mod_wsgi.
 *
 * Every failure is logged here with mod_wsgi's headline (`Exception occurred processing WSGI
 * script '...'.`, `Target WSGI user authentication script '...' does not provide 'Basic' auth
 * provider.`, ...) and becomes `{ kind: "failed" }`; what a failure means (500, a denial) is
 * the caller's business, as in mod_wsgi. Nothing here rejects.
 *
 * Callers in src/auth/wsgi-auth-script.ts, src/auth/wsgi-access-script.ts and
 * src/map/dispatch-script.ts build the environ and interpret the reply.
 */
import type { ErrorLog } from "../log/error-log";
import { ScriptCache, type LoadedScript } from "./loader";
import { WsgiErrors } from "./errors-stream";
import { logScriptException } from "./run";
import { textOf } from "../engine/byte-string";

export type HookFunction = "check_password" | "get_realm_hash" | "groups_for_user" | "allow_access" | "dispatch";

/** One hook call, in a form that can cross to a worker thread (JSON). */
export interface HookCall {
  readonly fn: HookFunction;
  /** The script's path, a byte string (engine/byte-string.ts), as ScriptCache keys are. */
  readonly script: string;
  /** The environ's string and number keys; `wsgi.errors` (and `mod_ssl.*`) are added where it runs. */
  readonly environ: Readonly<Record<string, string | number>>;
  /** check_password: user, password; get_realm_hash: user, realm; groups_for_user: user; allow_access: host; dispatch: none. */
  readonly args: readonly (string | null)[];
  /** What wsgi.errors and log lines start with (the request's `[client ...] ` prefix). */
  readonly logPrefix: string;
  /** The request came over TLS (for `mod_ssl.is_https()`). */
  readonly https: boolean;
}

/** What a hook gave, reduced; byte strings throughout. */
export type HookReply =
  /** Logged already: the script did not load, lacks the function, threw, answered nonsense, timed out. */
  | { readonly kind: "failed" }
  /** check_password: a string result renames the user (`user`, the UTF-8 bytes of the string). */
  | { readonly kind: "authn"; readonly status: "granted" | "denied" | "not-found"; readonly user?: string }
  /** get_realm_hash: the hash of user:realm:password as bytes, or null for an unknown user. */
  | { readonly kind: "realm-hash"; readonly hash: string | null }
  | { readonly kind: "groups"; readonly groups: readonly string[] }
  /** allow_access: true, false, or null (no opinion: mod_wsgi's DECLINED). */
  | { readonly kind: "access"; readonly allow: boolean | null }
  /** The dispatch functions' overrides, as returned (unexpanded); absent: keep the configuration's. */
  | { readonly kind: "dispatch"; readonly processGroup?: string; readonly applicationGroup?: string; readonly callableObject?: string };

export const HOOK_FAILED: HookReply = Object.freeze({ kind: "failed" });

/** Where hooks run: an application group's isolate, by name ("" is %{GLOBAL}). Never rejects. */
export interface HookRunner {
  /** `abandon`: aborted when the caller stops waiting (its timeout); the runner forgets the call then. */
  callHook(group: string, call: HookCall, abandon?: AbortSignal): Promise<HookReply>;
}

/**
 * Run one hook in `cache` (the application group's scripts). Never rejects.
 * `group` is the application group's name, for messages.
 */
export async function runHook(cache: ScriptCache, call: HookCall, log: ErrorLog): Promise<HookReply> {
  const prefix = call.logPrefix;
  let script: LoadedScript;
  try {
    script = await cache.load(call.script);
  } catch (err) {
    logScriptException(log, call.script, err, prefix);
    // A dispatch script that cannot be loaded leaves the request as configured (mod_wsgi goes on).
    return call.fn === "dispatch" ? NO_DISPATCH : HOOK_FAILED;
  }
  const errors = new WsgiErrors(log, prefix);
  const environ: Record<string, unknown> = { ...call.environ, "wsgi.errors": errors };
  if (call.fn !== "dispatch") {
    const https = call.https ? 1 : 0;
    environ["mod_ssl.is_https"] = () => https;
    // nodewsgi has no mod_ssl variables to look up.
    environ["mod_ssl.var_lookup"] = () => null;
  }
  try {
    switch (call.fn) {
      case "check_password":
        return await checkPassword(script, environ, call, log);
      case "get_realm_hash":
        return await getRealmHash(script, environ, call, log);
      case "groups_for_user":
        return await groupsForUser(script, environ, call, log);
      case "allow_access":
        return await allowAccess(script, environ, call, log);
      case "dispatch":
        return await dispatch(script, environ, call, log);
    }
  } catch (err) {
    logScriptException(log, call.script, err, prefix);
    return HOOK_FAILED;
  } finally {
    errors.flush();
  }
}

const NO_DISPATCH: HookReply = Object.freeze({ kind: "dispatch" });

/** A top-level export that is a function (`exports.name`, `export function name`, `export default { name }`). */
export function exportedFunction(script: LoadedScript, name: string): ((...args: unknown[]) => unknown) | undefined {
  const ns = script.exports as Record<string, unknown> | null | undefined;
  if (ns == null || (typeof ns !== "object" && typeof ns !== "function")) return undefined;
  const direct = ns[name];
  if (typeof direct === "function") return direct.bind(ns) as (...args: unknown[]) => unknown;
  const dflt = script.format === "esm" ? (ns.default as Record<string, unknown> | null | undefined) : undefined;
  if (dflt != null && (typeof dflt === "object" || typeof dflt === "function")) {
    const inner = dflt[name];
    if (typeof inner === "function") return inner.bind(dflt) as (...args: unknown[]) => unknown;
  }
  return undefined;
}

function pid(): string {
  return `mod_wsgi (pid=${process.pid})`;
}

/** mod_wsgi logs a bad result as a Python exception: the usual headline, then the error line. */
function logTypeError(log: ErrorLog, call: HookCall, message: string): void {
  log.log("error", "wsgi", `${call.logPrefix}${pid()}: Exception occurred processing WSGI script '${textOf(call.script)}'.`);
  log.log("error", "wsgi", `${call.logPrefix}TypeError: ${message}`);
}

function logLine(log: ErrorLog, call: HookCall, message: string): void {
  log.log("error", "wsgi", `${call.logPrefix}${pid()}: ${message}`);
}

/** A string whose every code unit is a byte (latin-1), or null. */
function byteString(value: string): string | null {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) return null;
  return value;
}

async function checkPassword(script: LoadedScript, environ: Record<string, unknown>, call: HookCall, log: ErrorLog): Promise<HookReply> {
  const fn = exportedFunction(script, "check_password");
  if (fn === undefined) {
    logLine(log, call, `Target WSGI user authentication script '${textOf(call.script)}' does not provide 'Basic' auth provider.`);
    return HOOK_FAILED;
  }
  const result = await fn(environ, call.args[0], call.args[1]);
  if (result === true) return { kind: "authn", status: "granted" };
  if (result === false) return { kind: "authn", status: "denied" };
  if (result === null || result === undefined) return { kind: "authn", status: "not-found" };
  // A string is the user's name from now on (REMOTE_USER): its UTF-8 bytes, as mod_wsgi takes them.
  if (typeof result === "string") return { kind: "authn", status: "granted", user: Buffer.from(result, "utf8").toString("latin1") };
  logTypeError(log, call, "Basic auth provider must return true, false, null or user name as string");
  return HOOK_FAILED;
}

/**
 * mod_wsgi's Digest provider: null/undefined is an unknown user; a string (latin-1 only, as
 * mod_wsgi encodes it) or bytes (up to a NUL, as a C string ends) is the hash as is, compared
 * as httpd compares it (so it must be lower-case hex). Anything else is an error (500).
 */
async function getRealmHash(script: LoadedScript, environ: Record<string, unknown>, call: HookCall, log: ErrorLog): Promise<HookReply> {
  const fn = exportedFunction(script, "get_realm_hash");
  if (fn === undefined) {
    logLine(log, call, `Target WSGI user authentication script '${textOf(call.script)}' does not provide 'Digest' auth provider.`);
    return HOOK_FAILED;
  }
  const result = await fn(environ, call.args[0], call.args[1]);
  if (result === null || result === undefined) return { kind: "realm-hash", hash: null };
  let hash: string;
  if (typeof result === "string") {
    const bytes = byteString(result);
    if (bytes === null) {
      logTypeError(log, call, "Digest auth provider must return null or string object, value containing non 'latin-1' characters found");
      return HOOK_FAILED;
    }
    hash = bytes;
  } else if (result instanceof Uint8Array) {
    hash = Buffer.from(result.buffer, result.byteOffset, result.byteLength).toString("latin1");
  } else {
    logTypeError(log, call, "Digest auth provider must return null or string object");
    return HOOK_FAILED;
  }
  const nul = hash.indexOf("\0");
  return { kind: "realm-hash", hash: nul < 0 ? hash : hash.slice(0, nul) };
}

async function groupsForUser(script: LoadedScript, environ: Record<string, unknown>, call: HookCall, log: ErrorLog): Promise<HookReply> {
  const fn = exportedFunction(script, "groups_for_user");
  if (fn === undefined) {
    logLine(log, call, `Target WSGI group authentication script '${textOf(call.script)}' does not provide group provider.`);
    return HOOK_FAILED;
  }
  const result = await fn(environ, call.args[0]);
  const notSequence = `Groups for user returned from '${textOf(call.script)}' must be an iterable sequence of byte strings.`;
  if (result == null || typeof (result as Iterable<unknown>)[Symbol.iterator] !== "function") {
    logLine(log, call, notSequence);
    logTypeError(log, call, `${result === null ? "null" : typeof result} is not iterable`);
    return HOOK_FAILED;
  }
  const groups: string[] = [];
  for (const item of result as Iterable<unknown>) {
    if (typeof item === "string") {
      const bytes = byteString(item);
      if (bytes === null) {
        logLine(log, call, `Groups for user returned from '${textOf(call.script)}' must be an iterable sequence of byte strings, value containing non 'latin-1' characters found`);
        return HOOK_FAILED;
      }
      groups.push(bytes);
    } else if (item instanceof Uint8Array) {
      groups.push(Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString("latin1"));
    } else {
      logLine(log, call, notSequence);
      return HOOK_FAILED;
    }
  }
  return { kind: "groups", groups };
}

async function allowAccess(script: LoadedScript, environ: Record<string, unknown>, call: HookCall, log: ErrorLog): Promise<HookReply> {
  const fn = exportedFunction(script, "allow_access");
  if (fn === undefined) {
    logLine(log, call, `Target WSGI host access script '${textOf(call.script)}' does not provide host validator.`);
    return HOOK_FAILED;
  }
  const result = await fn(environ, call.args[0]);
  if (result === true || result === false) return { kind: "access", allow: result };
  if (result === null || result === undefined) return { kind: "access", allow: null };
  logLine(log, call, `Indicator of host accessibility returned from '${textOf(call.script)}' must be a boolean or null.`);
  return HOOK_FAILED;
}

const DISPATCH_FUNCTIONS = [
  ["process_group", "processGroup", "Process group must be a byte string"],
  ["application_group", "applicationGroup", "Application group must be a string object"],
  ["callable_object", "callableObject", "Callable object must be a string object"],
] as const;

/** The three functions in mod_wsgi's order, on one environ; the first failure stops the rest. */
async function dispatch(script: LoadedScript, environ: Record<string, unknown>, call: HookCall, log: ErrorLog): Promise<HookReply> {
  const out: { kind: "dispatch"; processGroup?: string; applicationGroup?: string; callableObject?: string } = { kind: "dispatch" };
  for (const [name, key, wrongType] of DISPATCH_FUNCTIONS) {
    const fn = exportedFunction(script, name);
    if (fn === undefined) continue;
    const result = await fn(environ);
    if (result === null || result === undefined) continue;
    if (typeof result === "string") {
      const bytes = byteString(result);
      if (bytes === null) {
        logTypeError(log, call, `${wrongType.replace(/ must be a .*/, "")} must be a byte string, value containing non 'latin-1' characters found`);
        return HOOK_FAILED;
      }
      out[key] = bytes;
    } else if (result instanceof Uint8Array) {
      out[key] = Buffer.from(result.buffer, result.byteOffset, result.byteLength).toString("latin1");
    } else {
      logTypeError(log, call, wrongType);
      return HOOK_FAILED;
    }
  }
  return out;
}

/**
 * Hooks in this thread, one ScriptCache per application group: what a Mapper uses when no
 * process host is given (tests, tools). A server runs hooks through its ProcessHost instead,
 * so named groups get their worker thread and `%{GLOBAL}` shares the applications' cache.
 */
export class InThreadHookRunner implements HookRunner {
  private readonly caches = new Map<string, ScriptCache>();

  constructor(private readonly log: ErrorLog) {}

  callHook(group: string, call: HookCall): Promise<HookReply> {
    let cache = this.caches.get(group);
    if (cache === undefined) {
      cache = new ScriptCache(group);
      this.caches.set(group, cache);
    }
    return runHook(cache, call, this.log);
  }
}

/**
 * Call a hook, giving up after `timeoutMs` (a promise that never settles, a worker stuck in a
 * loop): the wait is logged and the call counts as failed. mod_wsgi has no such limit (a stuck
 * hook holds its Apache thread); nodewsgi bounds it by Apache's `Timeout`.
 */
export function callHookWithin(runner: HookRunner, group: string, call: HookCall, timeoutMs: number, log: ErrorLog): Promise<HookReply> {
  return new Promise<HookReply>((resolve) => {
    let settled = false;
    const abandon = new AbortController();
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      abandon.abort();
      const name = call.fn === "dispatch" ? "dispatch functions" : `${call.fn}()`;
      log.log("error", "wsgi", `${call.logPrefix}${pid()}: Gave up waiting for ${name} of WSGI script '${textOf(call.script)}' after ${Math.round(timeoutMs / 1000)} seconds.`);
      resolve(HOOK_FAILED);
    }, timeoutMs);
    timer.unref?.();
    let pending: Promise<HookReply>;
    try {
      pending = runner.callHook(group, call, abandon.signal);
    } catch (err) {
      // A worker thread that cannot be started, say.
      pending = Promise.reject(err);
    }
    pending.then(
      (reply) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(reply);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        logScriptException(log, call.script, err, call.logPrefix);
        resolve(HOOK_FAILED);
      },
    );
  });
}
