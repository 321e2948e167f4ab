/**
 * Which kind of application a loaded script exports, and the WSGI-style callable for it.
 *
 * Shapes: `wsgi` (`(environ, start_response)`), `fetch` (a WHATWG fetch handler returning a
 * Response) and `node` (a `(req, res)` request listener). The rules for `auto`, in order
 * (NAME is the callable name, `application` unless WSGICallableObject says otherwise):
 *
 * 1. The named value: `exports[NAME]`, else (ESM) `default[NAME]`. If it exists it decides:
 *    an object or function with a `fetch` method is `fetch` (Hono: `exports.application = app`);
 *    a Node framework app is `node` (see below); any other function is `wsgi`, unless its
 *    first two parameters are spelled `req`/`request` and `res`/`response`, which makes it
 *    `node` (Koa's `app.callback()`). Anything else is an error.
 * 2. Only for NAME `application`, the module as a whole: `module.exports` (CommonJS) or
 *    `export default` (ESM), then the module itself (`export function fetch`,
 *    `exports.fetch = ...`): `fetch` method -> `fetch`; Node framework app -> `node`; a
 *    function -> as in 1 (`module.exports = fn`).
 * 3. A server the script started listening while it loaded (`app.listen(3000)`, captured
 *    without binding the port, see ./listen-capture) -> `node`.
 * 4. Otherwise E_CALLABLE_NOT_FOUND.
 *
 * A Node framework app is: a function with `handle` and `use` methods (Express, connect; the
 * function itself is the listener); an object with `callback` and `use` methods (Koa; the
 * listener is `app.callback()`); an `http.Server` (its `request` listeners).
 *
 * An explicit type skips the guessing: `wsgi` is the plain WSGI lookup; `fetch` takes the
 * first candidate with a `fetch` method, or a named/exported function used as the handler
 * itself; `node` takes a framework app, a function, or the captured server.
 */
import * as net from "node:net";
import { NodewsgiError } from "../../errors";
import { findCallable, type LoadedScript, type WsgiApplication } from "../loader";
import { fetchToWsgi, type FetchHandler } from "./fetch-adapter";
import { nodeListenerToWsgi, type NodeListener } from "./node-adapter";
import { serverListener } from "./listen-capture";

export type ApplicationType = "auto" | "wsgi" | "fetch" | "node";
export type ApplicationShape = "wsgi" | "fetch" | "node";

export const APPLICATION_TYPES: readonly ApplicationType[] = ["auto", "wsgi", "fetch", "node"];

export interface ResolvedApplication {
  readonly shape: ApplicationShape;
  /** The WSGI-style callable (an adapter for fetch and node shapes). */
  readonly application: WsgiApplication;
}

/** Parse an application type name (case-insensitive). Error: E_APPLICATION_TYPE. */
export function parseApplicationType(value: string): ApplicationType {
  const v = value.trim().toLowerCase();
  if ((APPLICATION_TYPES as readonly string[]).includes(v)) return v as ApplicationType;
  throw new NodewsgiError("E_APPLICATION_TYPE", `Invalid application type '${value}': expected one of ${APPLICATION_TYPES.join(", ")}`);
}

/** Resolve the script's application of `type` ("auto" detects) under `callableName`. */
export function loadApplicationShape(script: LoadedScript, callableName = "application", type: ApplicationType = "auto"): ResolvedApplication {
  if (type === "wsgi") return { shape: "wsgi", application: findCallable(script, callableName) };
  const named = namedValue(script, callableName);
  const wholes = callableName === "application" ? wholeValues(script) : [];
  const server = script.listenServer ?? null;

  if (type === "fetch") {
    for (const v of [named, ...wholes]) {
      const holder = fetchHolder(v);
      if (holder) return fetchShape(holder);
    }
    for (const v of [named, ...wholes]) if (typeof v === "function") return { shape: "fetch", application: fetchToWsgi(v as FetchHandler) };
    throw notFound(script, callableName, "a fetch handler");
  }
  if (type === "node") {
    for (const v of [named, ...wholes]) {
      const listener = nodeApp(v) ?? (typeof v === "function" ? { fn: v as NodeListener, self: undefined } : null);
      if (listener) return nodeShape(listener.fn, listener.self);
    }
    if (server) return nodeShape(serverListener(server) as NodeListener);
    throw notFound(script, callableName, "a Node request listener");
  }

  if (named !== undefined) {
    const r = classify(named);
    if (r) return r;
    throw notFound(script, callableName, "a WSGI application, fetch handler or Node request listener");
  }
  for (const v of wholes) {
    const r = classify(v);
    if (r) return r;
  }
  if (server) return nodeShape(serverListener(server) as NodeListener);
  // The plain lookup gives mod_wsgi's own message.
  return { shape: "wsgi", application: findCallable(script, callableName) };
}

function classify(v: unknown): ResolvedApplication | null {
  const holder = fetchHolder(v);
  if (holder) return fetchShape(holder);
  const app = nodeApp(v);
  if (app) return nodeShape(app.fn, app.self);
  if (typeof v === "function") {
    if (looksLikeNodeListener(v)) return nodeShape(v as NodeListener);
    return { shape: "wsgi", application: v as WsgiApplication };
  }
  return null;
}

function fetchShape(holder: { fetch: FetchHandler }): ResolvedApplication {
  return { shape: "fetch", application: fetchToWsgi(holder.fetch, holder) };
}

function nodeShape(fn: NodeListener, self?: unknown): ResolvedApplication {
  return { shape: "node", application: nodeListenerToWsgi(fn, self) };
}

function namedValue(script: LoadedScript, name: string): unknown {
  const ns = script.exports as Record<string, unknown> | null | undefined;
  if (ns == null || (typeof ns !== "object" && typeof ns !== "function")) return undefined;
  const direct = ns[name];
  if (direct !== undefined) return direct;
  if (script.format === "esm") {
    const dflt = ns.default as Record<string, unknown> | null | undefined;
    if (dflt != null && (typeof dflt === "object" || typeof dflt === "function")) return dflt[name];
  }
  return undefined;
}

function wholeValues(script: LoadedScript): unknown[] {
  const ns = script.exports as Record<string, unknown> | null | undefined;
  if (ns == null) return [];
  if (script.format === "esm") return ns.default !== undefined ? [ns.default, ns] : [ns];
  return [ns];
}

function fetchHolder(v: unknown): { fetch: FetchHandler } | null {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return null;
  return typeof (v as { fetch?: unknown }).fetch === "function" ? (v as { fetch: FetchHandler }) : null;
}

function nodeApp(v: unknown): { fn: NodeListener; self: unknown } | null {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return null;
  const o = v as Record<string, unknown>;
  if (typeof v === "function" && typeof o.handle === "function" && typeof o.use === "function") return { fn: v as NodeListener, self: undefined };
  if (typeof o.callback === "function" && typeof o.use === "function") {
    return { fn: (o.callback as () => NodeListener).call(v), self: undefined };
  }
  if (v instanceof net.Server && v.listenerCount("request") > 0) return { fn: serverListener(v) as NodeListener, self: undefined };
  return null;
}

const PARAMS = /^(?:async\s*)?(?:function\b[^(]*)?\(\s*([\w$]+)\s*,\s*([\w$]+)/;

/** `(req, res)` / `function (request, response)`: a Node listener, not `(environ, start_response)`. */
function looksLikeNodeListener(fn: unknown): boolean {
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return false;
  }
  const m = PARAMS.exec(src);
  return m !== null && /^req(uest)?$/.test(m[1]) && /^res(ponse)?$/.test(m[2]);
}

function notFound(script: LoadedScript, name: string, what: string): NodewsgiError {
  return new NodewsgiError("E_CALLABLE_NOT_FOUND", `Target WSGI script '${script.filename}' does not contain ${what} '${name}'.`);
}
