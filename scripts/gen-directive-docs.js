#!/usr/bin/env node
// Regenerates docs/directives/ from the directive table (build first: npx tsc -p tsconfig.json).
// Pages of directives no longer in the table are removed.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { generateDirectiveDocs } = require("../dist/config/docs");

const dir = path.join(__dirname, "..", "docs", "directives");
fs.mkdirSync(dir, { recursive: true });
const pages = generateDirectiveDocs();
for (const f of fs.readdirSync(dir)) if (f.endsWith(".md") && !pages.has(f)) fs.unlinkSync(path.join(dir, f));
for (const [name, text] of pages) fs.writeFileSync(path.join(dir, name), text);
console.log(`wrote ${pages.size} files to ${path.relative(process.cwd(), dir) || dir}`);
