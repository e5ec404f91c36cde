// Renders kustomize overlays with the kustomize CLI (`kustomize build`, found by
// lib/tools.ts): the tests, the benchmark and the shim suite read the manifests as
// they are shipped, never a hand-written copy.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ROOT } from "./build";
import { findTool } from "./tools";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // The rest is checked by the schema validation; tests read it as plain data.
  [field: string]: unknown;
}

function kustomize(): string {
  const path = findTool("kustomize");
  if (!path) throw new Error("kustomize not found (scripts/install-tools.sh installs it)");
  return path;
}

/** Parses a multi-document YAML stream (what `kustomize build` prints) into objects. */
export function parseObjects(yaml: string, what: string): KubeObject[] {
  return parseAllDocuments(yaml).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`rendered YAML of ${what}: ${doc.errors[0]?.message}`);
    return doc.toJSON() as KubeObject;
  });
}

/** `kustomize build <dir>`, parsed. */
export function renderKustomization(dir: string): KubeObject[] {
  const result = spawnSync(kustomize(), ["build", dir], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`kustomize build ${dir} failed:\n${result.stderr}`);
  return parseObjects(result.stdout, dir);
}

/** One of kustomize/overlays/<overlay>, rendered. */
export function renderOverlay(overlay: string): KubeObject[] {
  return renderKustomization(join(ROOT, "kustomize/overlays", overlay));
}

/** Runs `kustomize <args>` in `cwd` (e.g. `edit set image`); throws with stderr on failure. */
export function runKustomize(args: readonly string[], cwd: string): string {
  const result = spawnSync(kustomize(), args, { cwd, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`kustomize ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

export function findObject(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) {
    const present = objects.map((object) => `${object.kind}/${object.metadata.name}`).join(", ");
    throw new Error(`no ${kind}/${name} in the rendered overlay (present: ${present})`);
  }
  return found;
}
