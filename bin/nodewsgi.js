#!/usr/bin/env node
"use strict";
// The compiled CLI lives in dist/ (built by `npm install` through the `prepare` script).
let main;
try {
  main = require("../dist/cli/main.js").main;
} catch (err) {
  if (err && err.code === "MODULE_NOT_FOUND" && /dist[\\/]cli[\\/]main/.test(String(err.message))) {
    process.stderr.write("nodewsgi: not built yet: run `npm install` (or `npm run build`) in the package directory\n");
    process.exit(1);
  }
  throw err;
}
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`nodewsgi: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
