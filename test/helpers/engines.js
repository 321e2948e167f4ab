"use strict";
/** The engines a test runs against: the JS engine, and the native one when the addon is built. */
const { jsEngine } = require("../../dist/engine/js-engine");
const { loadEngine } = require("../../dist/engine/load");

function availableEngines() {
  const engines = [["js", jsEngine]];
  try {
    const native = loadEngine();
    if (native.name === "native") engines.push(["native", native]);
  } catch {
    // the addon is not built: the js engine only
  }
  return engines;
}

module.exports = { availableEngines };
