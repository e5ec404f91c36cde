// Once per `npm test`, before any file: build dist/ when stale, and prepare each
// engine (jco transpile + the pod host; wasmtime's precompile when it is installed),
// so no suite pays for it, or races another to do it.
import { ensureBuilt } from "../lib/build";
import { testRuntimes } from "./support/pods";

export default async function setup() {
  ensureBuilt();
  for (const runtime of testRuntimes()) await runtime.prepare();
}
