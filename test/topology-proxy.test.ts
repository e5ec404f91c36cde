// The local Service proxy on its own, against a plain HTTP stub and a port that
// refuses: round-robin, skipping a refusing endpoint, and answers when none is left.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../scripts/lib/pods";
import type { Endpoint } from "../scripts/topology/balancer";
import { type Listener, listen } from "../scripts/topology/listen";
import { createService, type RequestRecord, type Service } from "../scripts/topology/service-proxy";

describe("service proxy", () => {
  const records: RequestRecord[] = [];
  let endpoints: Endpoint[] = [];
  let stubs: Server[];
  let service: Service;
  let front: Listener;
  let live: Endpoint[];
  let refusing: Endpoint;

  beforeAll(async () => {
    stubs = await Promise.all(
      ["pod-a", "pod-b"].map(
        (pod) =>
          new Promise<Server>((resolve) => {
            const server = createServer((req, res) => {
              res.setHeader("x-served-by", pod);
              res.end(`${pod} ${req.method} ${req.url} ${req.headers["x-request-id"] ?? ""}`);
            });
            server.listen(0, "127.0.0.1", () => resolve(server));
          }),
      ),
    );
    live = stubs.map((server, i) => ({ pod: `pod-${"ab"[i]}`, host: "127.0.0.1", port: (server.address() as AddressInfo).port }));
    refusing = { pod: "pod-dead", host: "127.0.0.1", port: await freePort() };
    service = createService("svc", () => endpoints, (record) => records.push(record));
    front = await listen("127.0.0.1", 0, "test", (req, res) => service.handle("ClusterIP svc", req, res));
  });

  afterAll(async () => {
    await front.close();
    service.close();
    await Promise.all(stubs.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it("alternates between endpoints and forwards path and headers", async () => {
    endpoints = live;
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      bodies.push(await (await fetch(`${front.url}/Po?x=1`, { headers: { "x-request-id": `r${i}` } })).text());
    }
    expect(bodies.map((b) => b.split(" ")[0])).toEqual(["pod-a", "pod-b", "pod-a", "pod-b"]);
    expect(bodies[0]).toMatch(/^pod-[ab] GET \/Po\?x=1 r0$/);
  });

  it("a refusing endpoint is skipped: every request still answers, and the log says which was skipped", async () => {
    endpoints = [refusing, live[0]!];
    records.length = 0;
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${front.url}/Sam`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("pod-a GET /Sam");
    }
    expect(records.every((r) => r.pod === "pod-a" && r.status === 200)).toBe(true);
    expect(records.some((r) => r.skipped.includes("pod-dead"))).toBe(true);
  });

  it("no ready endpoint -> 503 naming the service; only refusing ones -> 503 naming them", async () => {
    endpoints = [];
    const none = await fetch(`${front.url}/Sam`);
    expect(none.status).toBe(503);
    expect(await none.text()).toBe("svc: no ready endpoints\n");
    endpoints = [refusing];
    const refused = await fetch(`${front.url}/Sam`);
    expect(refused.status).toBe(503);
    expect(await refused.text()).toBe("svc: no endpoint accepted the connection (tried pod-dead)\n");
  });
});
