/**
 * The CGI and mod_wsgi.* keys of a request answered from a route plan, in ./environ.ts
 * cgiPairs's order, each with its value as an expression over a CgiEnviron `c` and its
 * RouteEnviron `e`. Two consumers compile them: ./environ-object.ts (the in-thread host's
 * environ object) and wireFields below (the worker and daemon encoders, src/groups/environ-codec.ts),
 * so both follow one table; test/environ-plan.test.js compares each with the list.
 */
import type { CgiEnviron, RouteEnviron } from "./environ";

export const CGI_FIELDS: readonly (readonly [string, string])[] = [
  ["GATEWAY_INTERFACE", `"CGI/1.1"`],
  ["SERVER_PROTOCOL", "c.req.protocol"],
  ["REQUEST_METHOD", "c.req.method"],
  ["QUERY_STRING", `c.query ?? ""`],
  ["REQUEST_URI", "c.req.target"],
  ["SCRIPT_NAME", "e.scriptName"],
  ["PATH_INFO", "e.pathInfo"],
  ["SCRIPT_FILENAME", "e.scriptFilename"],
  ["DOCUMENT_ROOT", "e.documentRoot"],
  ["CONTEXT_PREFIX", "e.contextPrefix"],
  ["CONTEXT_DOCUMENT_ROOT", "e.contextDocumentRoot"],
  ["REQUEST_SCHEME", "e.scheme"],
  ["SERVER_NAME", "e.serverName"],
  ["SERVER_PORT", "e.serverPort"],
  ["SERVER_ADDR", "c.req.localAddress"],
  ["SERVER_ADMIN", "e.serverAdmin"],
  ["SERVER_SIGNATURE", "e.serverSignature"],
  ["SERVER_SOFTWARE", "e.serverSoftware"],
  ["REMOTE_ADDR", "c.req.remoteAddress"],
  ["REMOTE_PORT", "String(c.req.remotePort)"],
];
/** Only when the route has PATH_INFO. */
export const PATH_TRANSLATED_FIELD: readonly [string, string] = ["PATH_TRANSLATED", "e.pathTranslated"];
export const MOD_WSGI_FIELDS: readonly (readonly [string, string])[] = [
  ["mod_wsgi.script_name", "e.scriptName"],
  ["mod_wsgi.path_info", "e.pathInfo"],
  ["mod_wsgi.process_group", "e.processGroup"],
  ["mod_wsgi.application_group", "e.applicationGroup"],
  ["mod_wsgi.callable_object", "e.callable"],
  ["mod_wsgi.request_handler", "e.handler"],
  ["mod_wsgi.handler_script", "e.handlerScript"],
  ["mod_wsgi.script_reloading", `"1"`],
  ["mod_wsgi.enable_sendfile", `"0"`],
  ["mod_wsgi.ignore_activity", `"0"`],
  ["mod_wsgi.listener_host", "c.req.localAddress"],
  ["mod_wsgi.listener_port", "String(c.req.localPort)"],
  ["mod_wsgi.request_id", "c.id"],
  ["mod_wsgi.request_start", "c.start"],
  ["mod_wsgi.script_start", "c.start"],
];

/** The fields after the plan's variables and the request's headers. */
export function planFields(translated: boolean): readonly (readonly [string, string])[] {
  return translated ? [...CGI_FIELDS, PATH_TRANSLATED_FIELD, ...MOD_WSGI_FIELDS] : [...CGI_FIELDS, ...MOD_WSGI_FIELDS];
}

/**
 * Encodes the fields' values as src/groups/environ-codec.ts sends an environ: environ index
 * `at` onwards, each value equal to `last`'s at its index marked in `same` (when not null),
 * the others appended to `out` and recorded in `last`.
 */
export type WireEncode = (c: CgiEnviron, e: RouteEnviron, last: string[], at: number, same: Uint8Array | null, out: string[]) => void;

/** The fields as one sequence of keys and the compiled encoder of their values. */
export interface WireFields {
  readonly keys: readonly string[];
  readonly encode: WireEncode;
}

/** Per `drop` set (null: none), the fields without and with PATH_TRANSLATED; null when they could not be compiled. */
const plain: (WireFields | null | undefined)[] = [undefined, undefined];
const dropped = new WeakMap<ReadonlySet<string>, (WireFields | null | undefined)[]>();

/**
 * The fields (without those in `drop`: a daemon group sends its own mod_wsgi.process_group),
 * or null when they cannot be compiled (code generation disallowed: the encoder then takes the
 * list). Compiled once per combination, then two lookups per request.
 */
export function wireFields(translated: boolean, drop: ReadonlySet<string> | null): WireFields | null {
  let slots = plain;
  if (drop !== null) {
    let d = dropped.get(drop);
    if (d === undefined) dropped.set(drop, (d = [undefined, undefined]));
    slots = d;
  }
  const at = translated ? 1 : 0;
  let w = slots[at];
  if (w === undefined) w = slots[at] = compileWire(translated, drop);
  return w;
}

function compileWire(translated: boolean, drop: ReadonlySet<string> | null): WireFields | null {
  const fields = planFields(translated).filter(([k]) => drop === null || !drop.has(k));
  // Every value is read from the parameters; keys do not appear in the code.
  const lines = fields.map(([, value]) => `v = ${value}; if (same !== null && v === last[i]) same[i >>> 3] |= 1 << (i & 7); else out.push((last[i] = v)); i++;`);
  try {
    const encode = new Function("c", "e", "last", "at", "same", "out", `"use strict"; let v, i = at;\n${lines.join("\n")}`) as WireEncode;
    return { keys: fields.map(([k]) => k), encode };
  } catch {
    return null;
  }
}
