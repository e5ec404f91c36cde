// Turns the bundled program into a wasi:http component with componentize-js
// (pinned in package.json; jco's CLI carries an older copy of its own).
// Usage: tsx scripts/componentize.ts <bundle.js> <out.wasm> [--disable-features f1,f2]
// --disable-features is for the benchmark's size comparison: build.sh keeps every feature, as
// the component uses http (fetch), clocks and random (crypto.randomUUID) and leaving out the
// rest (stdio) saves too little to lose the guest's error output.
import { writeFile } from "node:fs/promises";
import { componentize } from "@bytecodealliance/componentize-js";

type Feature = "stdio" | "random" | "clocks" | "http" | "fetch-event";
const FEATURES: readonly Feature[] = ["stdio", "random", "clocks", "http", "fetch-event"];

const [source, out, flag, list] = process.argv.slice(2);
const usage = "usage: componentize.ts <bundle.js> <out.wasm> [--disable-features f1,f2]";
if (!source || !out || (flag !== undefined && (flag !== "--disable-features" || !list))) {
  console.error(usage);
  process.exit(2);
}
const disableFeatures = (list?.split(",") ?? []) as Feature[];
const unknown = disableFeatures.filter((feature) => !FEATURES.includes(feature));
if (unknown.length) {
  console.error(`componentize.ts: unknown feature ${unknown.join(", ")} (known: ${FEATURES.join(", ")})`);
  process.exit(2);
}

const { component, imports } = await componentize({
  sourcePath: source,
  witPath: "wit",
  worldName: "wasm-pods",
  ...(disableFeatures.length ? { disableFeatures } : {}),
});
await writeFile(out, component);
console.log(`    imports: ${[...new Set(imports.map(([name]) => name))].join(", ")}`);
