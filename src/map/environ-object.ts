/**
 * The environ object of a request answered from a route plan, built without the flat list
 * (./environ.ts CgiEnviron). Its keys are those of the list in the list's order (the plan's
 * variables, the request's HTTP_* keys, the CGI and mod_wsgi.* keys), then the wsgi.* keys as
 * src/app/environ.ts adds them. A key sequence seen twice (the same variables, header keys and
 * PATH_TRANSLATED or not) gets a constructor: an object literal that reads each value where
 * the plan or the request holds it, so V8 builds it with a shared shape and nothing else is
 * allocated. A first sighting, a variable the adapter treats specially (PATH, HTTPS,
 * wsgi.url_scheme, __proto__) or code generation being disallowed give null: the caller then
 * builds from the list, as for any other request.
 */
import type { CgiEnviron, RouteEnviron } from "./environ";
import { fileWrapper, WSGI_VERSION, type Environ, type EnvironOptions } from "../app/environ";
import { planFields } from "./environ-fields";

type Build = (c: CgiEnviron, e: RouteEnviron, h: readonly string[], v: readonly string[], o: EnvironOptions, version: readonly number[], wrapper: typeof fileWrapper) => Environ;

/** src/app/environ.ts's wsgi.* keys, in its order (no HTTPS or wsgi.url_scheme variable here: the scheme is the listener's). */
const WSGI: readonly (readonly [string, string])[] = [
  ["wsgi.version", "version"],
  ["wsgi.url_scheme", "o.urlScheme"],
  ["wsgi.input", "o.input"],
  ["wsgi.errors", "o.errors"],
  ["wsgi.multithread", "o.multithread"],
  ["wsgi.multiprocess", "o.multiprocess"],
  ["wsgi.run_once", "o.runOnce"],
  ["wsgi.input_terminated", "true"],
  ["wsgi.file_wrapper", "wrapper"],
];

/** A plan's variables (SetEnv) as the constructor reads them; `special` when one needs the adapter's handling. */
export interface Variables {
  readonly keys: readonly string[];
  readonly values: readonly string[];
  readonly special: boolean;
}

const NO_VARIABLES: Variables = { keys: [], values: [], special: false };
const SPECIAL = new Set(["PATH", "HTTPS", "wsgi.url_scheme", "__proto__"]);
/** A plan's variables map is never written after the plan is made: its arrays are made once. */
const variablesOf = new WeakMap<ReadonlyMap<string, string>, Variables>();

export function variables(env: ReadonlyMap<string, string>): Variables {
  if (env.size === 0) return NO_VARIABLES;
  let v = variablesOf.get(env);
  if (v === undefined) {
    const keys = [...env.keys()];
    v = { keys, values: [...env.values()], special: keys.some((k) => SPECIAL.has(k)) };
    variablesOf.set(env, v);
  }
  return v;
}

interface Shape {
  readonly variables: readonly string[];
  /** The header keys (even entries of the HTTP_* list), compared by identity: the engines memoise them. */
  readonly headers: readonly string[];
  readonly translated: boolean;
}

interface Compiled extends Shape {
  readonly build: Build;
}

const SHAPES_MAX = 16;
const compiled: Compiled[] = [];
const seenOnce: Shape[] = [];
/** False when code generation is disallowed (--disallow-code-generation-from-strings). */
let enabled = true;

/** The environ object for `c`; null when the list must be used. */
export function planEnvironObject(c: CgiEnviron, opts: EnvironOptions): Environ | null {
  if (!enabled) return null;
  const vars = variables(c.env);
  // Refused before the headers are converted: the list will convert them again.
  if (vars.special) return null;
  const h = c.headerPairs();
  const translated = c.route.pathTranslated !== null;
  for (let i = 0; i < compiled.length; i++) {
    const s = compiled[i];
    if (fits(s, vars.keys, h, translated)) return s.build(c, c.route, h, vars.values, opts, WSGI_VERSION, fileWrapper);
  }
  const seen = seenOnce.findIndex((s) => fits(s, vars.keys, h, translated));
  if (seen < 0) {
    remember(seenOnce, { variables: vars.keys, headers: keysOf(h), translated });
    return null;
  }
  const shape = seenOnce[seen];
  seenOnce.splice(seen, 1);
  let build: Build;
  try {
    build = compile(shape);
  } catch {
    enabled = false;
    return null;
  }
  remember(compiled, { ...shape, build });
  return build(c, c.route, h, vars.values, opts, WSGI_VERSION, fileWrapper);
}

function fits(s: Shape, variables: readonly string[], h: readonly string[], translated: boolean): boolean {
  if (s.translated !== translated || h.length !== 2 * s.headers.length) return false;
  for (let i = 0; i < s.headers.length; i++) if (h[2 * i] !== s.headers[i]) return false;
  if (s.variables === variables) return true;
  if (s.variables.length !== variables.length) return false;
  for (let i = 0; i < variables.length; i++) if (s.variables[i] !== variables[i]) return false;
  return true;
}

function keysOf(pairs: readonly string[]): string[] {
  const keys: string[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) keys.push(pairs[i]);
  return keys;
}

/** Keep at most SHAPES_MAX entries, dropping the oldest. */
function remember<T>(list: T[], item: T): void {
  if (list.length >= SHAPES_MAX) list.shift();
  list.push(item);
}

function compile(s: Shape): Build {
  // Keys are embedded as JSON string literals; every value is read from the parameters.
  const props: string[] = [];
  s.variables.forEach((k, i) => props.push(`${JSON.stringify(k)}: v[${i}]`));
  s.headers.forEach((k, i) => props.push(`${JSON.stringify(k)}: h[${2 * i + 1}]`));
  const fixed = [...planFields(s.translated), ...WSGI];
  for (const [k, value] of fixed) props.push(`${JSON.stringify(k)}: ${value}`);
  return new Function("c", "e", "h", "v", "o", "version", "wrapper", `"use strict"; return {\n${props.join(",\n")}\n};`) as Build;
}
