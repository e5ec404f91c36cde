// The kustomize overlays render the original demo's topology on k3s's wasmtime runtime,
// schema-valid, with the image ref ./build.sh writes (or, in overlays/registry, the one
// `npm run push` pushed). Rendered with the kustomize CLI, as a user without kubectl would.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IService } from "kubernetes-models/v1/Service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultImageRef, readPackageIdentity } from "../scripts/image/project";
import { ROOT } from "../lib/build";
import { requireTools, suiteTitle } from "./support/tools";
import {
  findObject,
  renderKustomization,
  renderOverlay,
  runKustomize,
  validateAgainstSchema,
  type KubeObject,
} from "./support/kube-render";

const OVERLAYS = ["greeter", "splitter", "k3s", "greeter-nodeport", "registry"] as const;
const tools = requireTools("test/manifests.test.ts", ["kustomize"], "scripts/install-tools.sh installs kustomize");

/** The port both roles listen on: the shim's default, >= 1024 (no NET_BIND_SERVICE needed). */
const CONTAINER_PORT = 8080;
/** kubelet's default CRI request timeout (--runtime-request-timeout): what bounds the shim's compile. */
const KUBELET_RUNTIME_REQUEST_TIMEOUT_S = 120;

/** What the original demo had, per role: Service ports and NodePort unchanged. */
const ROLES = [
  {
    role: "greeter",
    deployment: "name-greeter-pod",
    service: "name-greeter-pod-service",
    replicas: 2,
    serviceType: "ClusterIP",
    servicePort: 70,
    nodePort: undefined,
  },
  {
    role: "splitter",
    deployment: "name-splitter-pod",
    service: "name-splitter-pod-service",
    replicas: 1,
    serviceType: "NodePort",
    servicePort: 90,
    nodePort: 30001,
  },
] as const;

const asDeployment = (object: KubeObject) => object as unknown as IDeployment;
const asService = (object: KubeObject) => object as unknown as IService;
const deploymentsOf = (objects: readonly KubeObject[]) => objects.filter((object) => object.kind === "Deployment").map(asDeployment);
function onlyContainer(deployment: IDeployment): IContainer {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}
function envValue(container: IContainer, name: string): string | undefined {
  return container.env?.find((entry) => entry.name === name)?.value;
}
function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}
/** A probe/targetPort may name the port; resolve it to the number. */
function resolvePort(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}
/** Kubernetes memory quantity (Ki/Mi/Gi or plain bytes) in bytes. */
function bytes(quantity: string | number | undefined): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(String(quantity));
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, "": 1 }[match[2] ?? ""]!;
}

describe.skipIf(!tools.available)(suiteTitle("kustomize overlays", tools), () => {
  const rendered = new Map<string, KubeObject[]>();
  beforeAll(() => {
    for (const overlay of OVERLAYS) rendered.set(overlay, renderOverlay(overlay));
  });
  const k3s = () => rendered.get("k3s")!;
  const pkg = readPackageIdentity(ROOT);

  it.each(OVERLAYS)("overlay %s renders objects that are valid against the Kubernetes schema", (overlay) => {
    const objects = rendered.get(overlay)!;
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect(() => validateAgainstSchema(object), `${object.kind}/${object.metadata.name}`).not.toThrow();
  });

  it("k3s overlay creates both roles and no RuntimeClass of its own (k3s ships `wasmtime`)", () => {
    const names = k3s().map((object) => `${object.kind}/${object.metadata.name}`).sort();
    expect(names).toEqual([
      "Deployment/name-greeter-pod",
      "Deployment/name-splitter-pod",
      "NetworkPolicy/name-greeter-pod-ingress",
      "Service/name-greeter-pod-service",
      "Service/name-splitter-pod-service",
    ]);
  });

  it.each(["greeter", "splitter", "k3s", "greeter-nodeport"])("overlay %s pins the image ref ./build.sh writes (package.json name:version)", (overlay) => {
    const deployments = deploymentsOf(rendered.get(overlay)!);
    expect(deployments.length).toBeGreaterThan(0);
    for (const deployment of deployments) {
      const container = onlyContainer(deployment);
      expect(container.image).toBe(defaultImageRef(ROOT).full);
      // A locally imported image must never be pulled: IfNotPresent with a version tag.
      expect(container.imagePullPolicy).toBe("IfNotPresent");
      expect(container.image).not.toMatch(/:latest$/);
    }
  });

  describe.each(ROLES)("$role", (spec) => {
    const deployment = () => asDeployment(findObject(k3s(), "Deployment", spec.deployment));
    const service = () => asService(findObject(k3s(), "Service", spec.service));

    it("Deployment: replicas, wasmtime runtime, one unprivileged port that the shim listens on", () => {
      const container = onlyContainer(deployment());
      expect(deployment().spec?.replicas).toBe(spec.replicas);
      expect(deployment().spec?.template.spec?.runtimeClassName).toBe("wasmtime");
      expect(container.ports).toEqual([{ name: "http", containerPort: CONTAINER_PORT, protocol: "TCP" }]);
      // The restricted profile drops every capability: a port < 1024 would need NET_BIND_SERVICE
      // or containerd's unprivileged-ports setting.
      expect(container.ports![0]!.containerPort).toBeGreaterThanOrEqual(1024);
      expect(envValue(container, "WASMTIME_HTTP_PROXY_SOCKET_ADDR")).toBe(`0.0.0.0:${container.ports![0]!.containerPort}`);
      expect(envValue(container, "ROLE")).toBe(spec.role);
      const podName = container.env?.find((entry) => entry.name === "POD_NAME");
      expect(podName?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
    });

    it("Deployment: probes on the container port; the rollout outlasts kubelet's CRI timeout, which is what bounds the compile", () => {
      const container = onlyContainer(deployment());
      expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
      expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
      expect(container.startupProbe?.httpGet?.path).toBe("/healthz");
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
        expect(resolvePort(container, probe?.httpGet?.port)).toBe(CONTAINER_PORT);
      }
      // The startup probe starts after CRI StartContainer, i.e. after the compile: it covers
      // loading the module and binding the socket only, yet must not be so short that a busy
      // node restarts a pod that is merely slow to load.
      const startup = container.startupProbe!;
      expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3)).toBeGreaterThanOrEqual(20);
      // A first rollout compiles in every new pod at once; the Deployment must not call that
      // "failed" before kubelet itself would give up on a StartContainer call.
      expect(deployment().spec?.progressDeadlineSeconds).toBeGreaterThan(KUBELET_RUNTIME_REQUEST_TIMEOUT_S);
    });

    it("Deployment: resources, zero-downtime rollout, recommended labels", () => {
      const container = onlyContainer(deployment());
      // The values kustomize/base sets for both roles: a missing or mistyped one fails here.
      expect(container.resources).toEqual({ requests: { cpu: "50m", memory: "80Mi" }, limits: { cpu: "1", memory: "256Mi" } });
      expect(bytes(container.resources?.requests?.memory)).toBeLessThanOrEqual(bytes(container.resources?.limits?.memory));
      expect(deployment().spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
      // A stopping pod keeps serving until kube-proxy has dropped it, well inside its grace period.
      expect(container.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
      expect(deployment().spec?.template.spec?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(5 + 20);
      const podLabels = deployment().spec?.template.metadata?.labels;
      expect(podLabels).toMatchObject({
        "app.kubernetes.io/name": "wasm-pods",
        "app.kubernetes.io/component": spec.role,
        "app.kubernetes.io/instance": spec.role,
        "app.kubernetes.io/part-of": "wasm-pods",
        "app.kubernetes.io/version": pkg.version,
      });
      expect(deployment().metadata?.labels).toMatchObject(podLabels!);
      const selector = deployment().spec?.selector.matchLabels;
      expect(selects(selector, podLabels)).toBe(true);
      // The version changes on every release; a selector is immutable, so it must not hold it.
      expect(selector).not.toHaveProperty("app.kubernetes.io/version");
    });

    it("Service: the demo's type and ports, forwarding to the named container port of exactly this role's pods", () => {
      const port = service().spec?.ports?.[0];
      expect(service().spec?.type).toBe(spec.serviceType);
      expect(service().spec?.ports).toHaveLength(1);
      expect(port?.port).toBe(spec.servicePort);
      expect(port?.nodePort).toBe(spec.nodePort);
      expect(port?.targetPort).toBe("http");
      expect(resolvePort(onlyContainer(deployment()), port?.targetPort)).toBe(CONTAINER_PORT);
      const selected = deploymentsOf(k3s()).filter((candidate) => selects(service().spec?.selector, candidate.spec?.template.metadata?.labels));
      expect(selected.map((candidate) => candidate.metadata?.name)).toEqual([spec.deployment]);
    });
  });

  it("the splitter calls the greeters through their Service's DNS name and port", () => {
    const splitter = onlyContainer(asDeployment(findObject(k3s(), "Deployment", "name-splitter-pod")));
    const greeterService = asService(findObject(k3s(), "Service", "name-greeter-pod-service"));
    expect(envValue(splitter, "GREETER_URL")).toBe(`http://${greeterService.metadata?.name}:${greeterService.spec?.ports?.[0]?.port}`);
    expect(envValue(splitter, "GREETER_URL")).toBe("http://name-greeter-pod-service:70");
  });

  it("NetworkPolicy: only the splitter pods reach the greeters, on the greeters' container port", () => {
    const policy = findObject(k3s(), "NetworkPolicy", "name-greeter-pod-ingress") as unknown as INetworkPolicy;
    const labelsOf = (name: string) => asDeployment(findObject(k3s(), "Deployment", name)).spec?.template.metadata?.labels;
    const greeter = labelsOf("name-greeter-pod");
    const splitter = labelsOf("name-splitter-pod");
    expect(selects(policy.spec?.podSelector?.matchLabels, greeter)).toBe(true);
    expect(selects(policy.spec?.podSelector?.matchLabels, splitter)).toBe(false);
    expect(policy.spec?.policyTypes).toEqual(["Ingress"]);
    const rules = policy.spec?.ingress ?? [];
    expect(rules).toHaveLength(1);
    const sources = rules[0]?.from ?? [];
    expect(sources).toHaveLength(1);
    expect(sources[0]?.namespaceSelector).toBeUndefined();
    expect(selects(sources[0]?.podSelector?.matchLabels, splitter)).toBe(true);
    expect(selects(sources[0]?.podSelector?.matchLabels, greeter)).toBe(false);
    // A policy port is the pod's port, not the Service's 70.
    const greeterPort = onlyContainer(asDeployment(findObject(k3s(), "Deployment", "name-greeter-pod"))).ports![0]!.containerPort;
    expect(rules[0]?.ports).toEqual([{ protocol: "TCP", port: greeterPort }]);
  });

  it("restricted Pod Security profile is applied to every Deployment", () => {
    for (const deployment of deploymentsOf(k3s())) {
      const pod = deployment.spec?.template.spec;
      expect(pod?.automountServiceAccountToken).toBe(false);
      expect(pod?.securityContext?.runAsNonRoot).toBe(true);
      expect(pod?.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(pod?.securityContext?.seccompProfile?.type).toBe("RuntimeDefault");
      const container = onlyContainer(deployment).securityContext;
      expect(container?.allowPrivilegeEscalation).toBe(false);
      expect(container?.readOnlyRootFilesystem).toBe(true);
      expect(container?.capabilities?.drop).toEqual(["ALL"]);
      // The one add "restricted" allows: it keeps the sets non-empty under the shim (docs/k3s.md).
      expect(container?.capabilities?.add).toEqual(["NET_BIND_SERVICE"]);
    }
  });

  it("greeter-nodeport adds the greeters on NodePort 30002 and lets outside traffic reach their container port", () => {
    const objects = rendered.get("greeter-nodeport")!;
    const greeter = asDeployment(findObject(objects, "Deployment", "name-greeter-pod"));
    const nodePorts = objects
      .filter((object) => object.kind === "Service")
      .map(asService)
      .filter((service) => service.spec?.ports?.some((port) => port.nodePort === 30002));
    expect(nodePorts).toHaveLength(1);
    const service = nodePorts[0]!;
    expect(service.spec?.type).toBe("NodePort");
    expect(selects(service.spec?.selector, greeter.spec?.template.metadata?.labels)).toBe(true);
    expect(resolvePort(onlyContainer(greeter), service.spec?.ports?.[0]?.targetPort)).toBe(CONTAINER_PORT);
    const policy = findObject(objects, "NetworkPolicy", "name-greeter-pod-ingress") as unknown as INetworkPolicy;
    // A rule with no `from` admits every source.
    expect(policy.spec?.ingress?.some((rule) => !rule.from && rule.ports?.some((port) => port.port === CONTAINER_PORT))).toBe(true);
  });

  describe("registry overlay", () => {
    let copy: string;
    beforeAll(() => {
      copy = mkdtempSync(join(tmpdir(), "wp-kustomize-"));
      cpSync(join(ROOT, "kustomize"), join(copy, "kustomize"), { recursive: true });
    });
    afterAll(() => rmSync(copy, { recursive: true, force: true }));

    it("is the k3s overlay with only the image renamed to a registry, pulled IfNotPresent", () => {
      const registry = rendered.get("registry")!;
      const strip = (objects: readonly KubeObject[]) =>
        JSON.parse(JSON.stringify(objects).replaceAll(/"image":"[^"]*"/g, '"image":"?"')) as unknown;
      expect(strip(registry)).toEqual(strip(k3s()));
      for (const deployment of deploymentsOf(registry)) {
        const container = onlyContainer(deployment);
        expect(container.image).not.toBe(defaultImageRef(ROOT).full);
        expect(container.image).toMatch(/^[a-z0-9.-]+\.[a-z]+(:\d+)?\/.+:[\w.-]+$/); // a registry host, a tag
        expect(container.image!.endsWith(`:${pkg.version}`)).toBe(true);
        expect(container.imagePullPolicy).toBe("IfNotPresent");
      }
    });

    it("the documented `kustomize edit set image` step points both roles at the pushed ref", () => {
      const pushed = "127.0.0.1:5000/team/wasm-pods:9.9.9-rc.1";
      const overlay = join(copy, "kustomize/overlays/registry");
      runKustomize(["edit", "set", "image", `docker.io/library/wasm-pods=${pushed}`], overlay);
      const deployments = deploymentsOf(renderKustomization(overlay));
      expect(deployments.map((deployment) => deployment.metadata?.name).sort()).toEqual(["name-greeter-pod", "name-splitter-pod"]);
      for (const deployment of deployments) expect(onlyContainer(deployment).image).toBe(pushed);
    });
  });
});
