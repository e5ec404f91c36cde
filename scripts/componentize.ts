// Turns the bundled program into a wasi:http component with componentize-js
// (pinned in package.json; jco's CLI carries an older copy of its own).
// Usage: tsx scripts/componentize.ts <bundle.js> <out.wasm>
import { writeFile } from "node:fs/promises";
import { componentize } from "@bytecodealliance/componentize-js";

const [source, out] = process.argv.slice(2);
if (!source || !out) {
  console.error("usage: componentize.ts <bundle.js> <out.wasm>");
  process.exit(2);
}

const { component, imports } = await componentize({
  sourcePath: source,
  witPath: "wit",
  worldName: "wasm-pods",
});
await writeFile(out, component);
console.log(`    imports: ${[...new Set(imports.map(([name]) => name))].join(", ")}`);
