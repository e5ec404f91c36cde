// Checks rendered objects against the Kubernetes OpenAPI schema (kubernetes-models, offline);
// the rendering itself is lib/kustomize.ts.
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Service } from "kubernetes-models/v1/Service";
import type { KubeObject } from "../../lib/kustomize";

export { findObject, type KubeObject, parseObjects, renderKustomization, renderOverlay, runKustomize } from "../../lib/kustomize";

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
