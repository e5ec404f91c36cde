// Where the external tools live: scripts/install-tools.sh puts them in
// $WASM_PODS_TOOLS/bin (default ~/.cache/wasm-pods-tools/bin); a tool on the PATH
// serves too. One lookup for the tests, `npm start` and the benchmark.
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

export const TOOLS_BIN = join(process.env.WASM_PODS_TOOLS ?? join(homedir(), ".cache/wasm-pods-tools"), "bin");

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `command` in the tools folder, then on `pathVariable`; undefined when none. */
export function findTool(command: string, pathVariable = process.env.PATH ?? ""): string | undefined {
  for (const dir of [TOOLS_BIN, ...pathVariable.split(delimiter)]) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
