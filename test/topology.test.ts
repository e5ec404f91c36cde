// host/topology.ts is what `npm start` plays: generated from the rendered overlays, so
// it must say what they say now (kustomize renders them again here).
import { describe, expect, it } from "vitest";
import { TOPOLOGY } from "../host/topology";
import { renderTopology, TWIN_OVERLAYS } from "../scripts/gen-topology";
import { requireTools, suiteTitle } from "./support/tools";

const tools = requireTools("topology", ["kustomize"], "scripts/install-tools.sh installs kustomize");

describe.skipIf(!tools.available)(suiteTitle(`host/topology.ts against kustomize/overlays/${TWIN_OVERLAYS.join(" and ")}`, tools), () => {
  it("is current: regenerate it with `npx tsx scripts/gen-topology.ts` after changing an overlay", () => {
    expect(TOPOLOGY).toEqual(renderTopology());
  });

  it("holds the README's topology: 2 greeters behind ClusterIP :70 and NodePort 30002, 1 splitter behind NodePort 30001", () => {
    expect(TOPOLOGY.deployments.map((d) => [d.name, d.role, d.replicas])).toEqual([
      ["name-greeter-pod", "greeter", 2],
      ["name-splitter-pod", "splitter", 1],
    ]);
    expect(TOPOLOGY.services).toEqual([
      { name: "name-greeter-pod-service", deployment: "name-greeter-pod", port: 70 },
      { name: "name-splitter-pod-service", deployment: "name-splitter-pod", port: 90, nodePort: 30001 },
      { name: "name-greeter-pod-nodeport", deployment: "name-greeter-pod", port: 80, nodePort: 30002 },
    ]);
  });
});
