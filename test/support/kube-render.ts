// Renders a kustomize overlay with `kubectl kustomize` and checks every object against the
// Kubernetes OpenAPI schema (kubernetes-models, offline).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Service } from "kubernetes-models/v1/Service";
import { parseAllDocuments } from "yaml";
import { ROOT } from "../../scripts/lib/build";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // The rest is checked by the schema validation; tests read it as plain data.
  [field: string]: unknown;
}

export function renderOverlay(overlay: string): KubeObject[] {
  const dir = join(ROOT, "kustomize/overlays", overlay);
  const result = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`rendered YAML of ${overlay}: ${doc.errors[0]?.message}`);
    return doc.toJSON() as KubeObject;
  });
}

const VALIDATORS: Record<string, (object: KubeObject) => void> = {
  "apps/v1/Deployment": (object) => new Deployment(object as never).validate(),
  "v1/Service": (object) => new Service(object as never).validate(),
  "networking.k8s.io/v1/NetworkPolicy": (object) => new NetworkPolicy(object as never).validate(),
};

/** Throws with the schema error, or for a kind this project does not expect to ship. */
export function validateAgainstSchema(object: KubeObject): void {
  const validate = VALIDATORS[`${object.apiVersion}/${object.kind}`];
  if (!validate) throw new Error(`unexpected kind ${object.apiVersion}/${object.kind} (${object.metadata.name})`);
  validate(object);
}

export function findObject(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) {
    const present = objects.map((object) => `${object.kind}/${object.metadata.name}`).join(", ");
    throw new Error(`no ${kind}/${name} in the rendered overlay (present: ${present})`);
  }
  return found;
}
