/**
 * Engine selection: NODEWSGI_ENGINE=native|js, default native. Unset, a missing or broken
 * addon falls back to the JS engine with one line on stderr; forced native throws instead.
 */
import { NodewsgiError } from "../errors";
import { jsEngine } from "./js-engine";
import { createNativeEngine } from "./native-engine";
import type { Engine } from "./types";

let cached: { key: string; engine: Engine } | null = null;

export function loadEngine(): Engine {
  const requested = process.env.NODEWSGI_ENGINE ?? "";
  if (cached?.key === requested) return cached.engine;
  let engine: Engine;
  if (requested === "js") {
    engine = jsEngine;
  } else if (requested === "native") {
    engine = createNativeEngine(); // throws E_ENGINE_UNAVAILABLE
  } else if (requested === "") {
    try {
      engine = createNativeEngine();
    } catch (err) {
      process.stderr.write(`nodewsgi: using the JavaScript engine: ${(err as Error).message}\n`);
      engine = jsEngine;
    }
  } else {
    throw new NodewsgiError("E_ENGINE_UNAVAILABLE", `NODEWSGI_ENGINE must be "native" or "js", not ${JSON.stringify(requested)}`);
  }
  cached = { key: requested, engine };
  return engine;
}
