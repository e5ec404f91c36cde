// Runs GitHub's workflow parser (@actions/workflow-parser) over workflow texts and prints each
// one's errors as JSON. A separate process under tsx: the package imports its schema JSON
// without an import attribute, which Node's own ESM loader (what vitest uses for packages in
// node_modules) refuses.
//   stdin: [{ "name": "...", "content": "..." }, ...]   stdout: [["error", ...], ...]
import { readFileSync } from "node:fs";
import { NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";

const files = JSON.parse(readFileSync(0, "utf8")) as { name: string; content: string }[];
const errors = files.map((file) =>
  parseWorkflow(file, new NoOperationTraceWriter()).context.errors.getErrors().map((error) => error.message),
);
process.stdout.write(JSON.stringify(errors));
