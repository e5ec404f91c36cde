// The kustomize overlays render the original demo's topology on k3s's wasmtime runtime,
// schema-valid, with the image ref ./build.sh writes.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IService } from "kubernetes-models/v1/Service";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultImageRef, readPackageIdentity } from "../scripts/image/project";
import { ROOT } from "../scripts/lib/build";
import { checkTools, commandOnPath, reportMissing, suiteTitle } from "./support/kube-tools";
import { findObject, renderOverlay, validateAgainstSchema, type KubeObject } from "./support/kube-render";

const OVERLAYS = ["greeter", "splitter", "k3s", "greeter-nodeport"] as const;
const kubectl = checkTools(["kubectl"], "install kubectl >= 1.27 (built-in kustomize) to render the overlays");
const mustFail = reportMissing("test/manifests.test.ts", kubectl, { failInCi: true });

if (mustFail) {
  it("kubectl is required when CI=true", () => {
    throw new Error(`CI=true but ${kubectl.reason}`);
  });
}

/** What the original demo had, per role. */
const ROLES = [
  {
    role: "greeter",
    deployment: "name-greeter-pod",
    service: "name-greeter-pod-service",
    replicas: 2,
    containerPort: 80,
    serviceType: "ClusterIP",
    servicePort: 70,
    nodePort: undefined,
  },
  {
    role: "splitter",
    deployment: "name-splitter-pod",
    service: "name-splitter-pod-service",
    replicas: 1,
    containerPort: 90,
    serviceType: "NodePort",
    servicePort: 90,
    nodePort: 30001,
  },
] as const;

function asDeployment(object: KubeObject): IDeployment {
  return object as unknown as IDeployment;
}
function asService(object: KubeObject): IService {
  return object as unknown as IService;
}
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

describe.skipIf(!kubectl.available)(suiteTitle("kustomize overlays", kubectl), () => {
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

  it.each(OVERLAYS)("overlay %s pins the image ref ./build.sh writes (package.json name:version)", (overlay) => {
    const expected = defaultImageRef(ROOT).full;
    const deployments = rendered.get(overlay)!.filter((object) => object.kind === "Deployment");
    expect(deployments.length).toBeGreaterThan(0);
    for (const deployment of deployments.map(asDeployment)) {
      const container = onlyContainer(deployment);
      expect(container.image).toBe(expected);
      // A locally imported image must never be pulled: IfNotPresent with a version tag, or Never.
      expect(["IfNotPresent", "Never"]).toContain(container.imagePullPolicy);
      expect(container.image).not.toMatch(/:latest$/);
    }
  });

  describe.each(ROLES)("$role", (spec) => {
    const deployment = () => asDeployment(findObject(k3s(), "Deployment", spec.deployment));
    const service = () => asService(findObject(k3s(), "Service", spec.service));

    it("Deployment: replicas, wasmtime runtime, port and the shim's listen address agree", () => {
      const container = onlyContainer(deployment());
      expect(deployment().spec?.replicas).toBe(spec.replicas);
      expect(deployment().spec?.template.spec?.runtimeClassName).toBe("wasmtime");
      expect(container.ports?.map((port) => port.containerPort)).toEqual([spec.containerPort]);
      expect(envValue(container, "WASMTIME_HTTP_PROXY_SOCKET_ADDR")).toBe(`0.0.0.0:${spec.containerPort}`);
      expect(envValue(container, "ROLE")).toBe(spec.role);
      const podName = container.env?.find((entry) => entry.name === "POD_NAME");
      expect(podName?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
    });

    it("Deployment: probes on the container port, startup patient enough for the first compile", () => {
      const container = onlyContainer(deployment());
      expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
      expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
      expect(container.startupProbe?.httpGet?.path).toBeDefined();
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
        expect(resolvePort(container, probe?.httpGet?.port)).toBe(spec.containerPort);
      }
      // The shim compiles ~13 MB of wasm on first start (~10 s on 2 cores): allow >= 40 s.
      const startup = container.startupProbe!;
      expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3)).toBeGreaterThanOrEqual(40);
    });

    it("Deployment: resources, zero-downtime rollout, recommended labels", () => {
      const container = onlyContainer(deployment());
      for (const kind of ["requests", "limits"] as const) {
        expect(container.resources?.[kind]?.cpu, kind).toBeDefined();
        expect(container.resources?.[kind]?.memory, kind).toBeDefined();
      }
      expect(deployment().spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
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

    it("Service: type, port, targetPort and selector reach exactly this role's pods", () => {
      const port = service().spec?.ports?.[0];
      expect(service().spec?.type).toBe(spec.serviceType);
      expect(service().spec?.ports).toHaveLength(1);
      expect(port?.port).toBe(spec.servicePort);
      expect(port?.nodePort).toBe(spec.nodePort);
      expect(resolvePort(onlyContainer(deployment()), port?.targetPort)).toBe(spec.containerPort);
      const podsByRole = k3s().filter((object) => object.kind === "Deployment").map(asDeployment);
      const selected = podsByRole.filter((candidate) => selects(service().spec?.selector, candidate.spec?.template.metadata?.labels));
      expect(selected.map((candidate) => candidate.metadata?.name)).toEqual([spec.deployment]);
    });
  });

  it("the splitter calls the greeters through their Service's DNS name and port", () => {
    const splitter = onlyContainer(asDeployment(findObject(k3s(), "Deployment", "name-splitter-pod")));
    const greeterService = asService(findObject(k3s(), "Service", "name-greeter-pod-service"));
    expect(envValue(splitter, "GREETER_URL")).toBe(
      `http://${greeterService.metadata?.name}:${greeterService.spec?.ports?.[0]?.port}`,
    );
    expect(envValue(splitter, "GREETER_URL")).toBe("http://name-greeter-pod-service:70");
  });

  it("NetworkPolicy: only the splitter pods reach the greeters, on the greeter port", () => {
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
    expect(rules[0]?.ports).toEqual([{ protocol: "TCP", port: 80 }]);
  });

  it("restricted Pod Security profile is applied to every Deployment", () => {
    for (const deployment of k3s().filter((object) => object.kind === "Deployment").map(asDeployment)) {
      const pod = deployment.spec?.template.spec;
      expect(pod?.automountServiceAccountToken).toBe(false);
      expect(pod?.securityContext?.runAsNonRoot).toBe(true);
      expect(pod?.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(pod?.securityContext?.seccompProfile?.type).toBe("RuntimeDefault");
      const container = onlyContainer(deployment).securityContext;
      expect(container?.allowPrivilegeEscalation).toBe(false);
      expect(container?.readOnlyRootFilesystem).toBe(true);
      expect(container?.capabilities?.drop).toEqual(["ALL"]);
    }
  });

  it("greeter-nodeport adds the greeters on NodePort 30002 and lets outside traffic reach them", () => {
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
    expect(resolvePort(onlyContainer(greeter), service.spec?.ports?.[0]?.targetPort)).toBe(80);
    const policy = findObject(objects, "NetworkPolicy", "name-greeter-pod-ingress") as unknown as INetworkPolicy;
    // A rule with no `from` admits every source.
    expect(policy.spec?.ingress?.some((rule) => !rule.from && rule.ports?.some((port) => port.port === 80))).toBe(true);
  });
});

describe("scripts/k3s-e2e.sh", () => {
  const script = join(ROOT, "scripts/k3s-e2e.sh");

  it("parses (bash -n)", () => {
    const result = spawnSync("bash", ["-n", script], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.skipIf(!commandOnPath("shellcheck"))(
    commandOnPath("shellcheck") ? "is shellcheck-clean" : "is shellcheck-clean [SKIPPED: shellcheck not on PATH]",
    () => {
      const result = spawnSync("shellcheck", [script, join(ROOT, "scripts/image/import-k3s.sh")], { encoding: "utf8" });
      expect(result.stdout).toBe("");
      expect(result.status).toBe(0);
    },
  );
});
