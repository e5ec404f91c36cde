// Answers the twin makes itself (a Service's 504, a pod front's 503 and 504) are
// whole answers with a content-length, say which part of the twin made them, and
// carry the contract's headers where they make sense: X-Request-Id, Vary, and
// X-Served-By when a pod made them. kube-proxy never answers with HTTP at all, so
// nothing the component says is ever mistaken for one of these, and back.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireRuntime } from "../host/runtimes";
import { createService, type Endpoint } from "../host/service";
import { TWIN_ANSWER_HEADER, prefersJson, twinAnswer } from "../host/twin-answer";
import { rawRequest } from "./support/raw-http";
import { startTestGreeter, type TestGreeter } from "./support/greeters";
import { podFleet } from "./support/pods";

const jco = requireRuntime("jco");

describe("twinAnswer (pure)", () => {
  it("a text answer: the reason and a newline, its length, who made it, the contract's headers", () => {
    const made = twinAnswer({ status: 504, reason: "svc: pod p sent no answer within 10 ms", madeBy: "service", requestId: "abc-1" });
    expect(made.body).toBe("svc: pod p sent no answer within 10 ms\n");
    expect(made.headers).toMatchObject({
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(made.body.length),
      [TWIN_ANSWER_HEADER]: "service",
      "x-request-id": "abc-1",
      vary: "Accept",
    });
    expect(made.headers["x-served-by"]).toBeUndefined();
  });

  it("JSON when the client asks for it, as the component's errors; HEAD keeps the GET's length and drops the body", () => {
    const json = twinAnswer({ status: 503, reason: "busy", madeBy: "pod-front", servedBy: "pod-1", accept: "application/json", retryAfterSeconds: 1 });
    expect(JSON.parse(json.body)).toEqual({ error: "busy", status: 503 });
    expect(json.headers).toMatchObject({ "content-type": "application/json", "x-served-by": "pod-1", "retry-after": "1" });
    const head = twinAnswer({ status: 503, reason: "busy", madeBy: "pod-front", method: "HEAD" });
    expect(head.body).toBe("");
    expect(head.headers["content-length"]).toBe(String("busy\n".length));
  });

  it("a request id outside the contract's alphabet is replaced by a fresh one", () => {
    const made = twinAnswer({ status: 504, reason: "r", madeBy: "service", requestId: "<script>" });
    expect(made.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    [undefined, false],
    ["application/json", true],
    ["text/html,application/json;q=0.9", false],
    ["text/plain;q=0.5, application/json", true],
    ["application/json;q=0", false],
  ])("Accept %j prefers JSON: %s", (accept, json) => expect(prefersJson(accept)).toBe(json));
});

describe("answers made by the twin, on the wire", () => {
  let stall: Server;
  let endpoint: Endpoint;
  let greeter: TestGreeter;
  const fleet = podFleet(jco);

  beforeAll(async () => {
    stall = createServer(() => {});
    await new Promise<void>((resolve) => stall.listen(0, "127.0.0.1", resolve));
    endpoint = { pod: "stalled-pod", host: "127.0.0.1", port: (stall.address() as AddressInfo).port };
    greeter = await startTestGreeter("stall");
  });
  afterAll(async () => {
    stall.closeAllConnections();
    stall.close();
    await Promise.all([fleet.stopAll(), greeter.close()]);
  });

  it("a Service's 504: content-length (not chunked), X-Twin-Answer: service, the client's request id", async () => {
    const service = createService({ name: "svc", endpoints: () => [endpoint], onRequest: () => {}, deadlineMs: 300 });
    const server = createServer((req, res) => service.handle("test", req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const answer = await rawRequest(url, "GET /Po HTTP/1.1\r\nHost: svc\r\nX-Request-Id: req-42\r\nConnection: close\r\n\r\n");
      const head = answer.head.toLowerCase();
      expect(answer.status).toBe(504);
      expect(answer.body).toBe("svc: pod stalled-pod sent no answer within 300 ms\n");
      expect(head).toContain(`content-length: ${answer.body.length}`);
      expect(head).not.toContain("transfer-encoding");
      expect(head).toContain(`${TWIN_ANSWER_HEADER}: service`);
      expect(head).toContain("x-request-id: req-42");
      expect(head).toContain("vary: accept");
    } finally {
      service.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it("a pod front's 504 (a slot past its deadline) and 503 (queue full): content-length, X-Twin-Answer: pod-front, X-Served-By, Retry-After on the 503", async () => {
    const process = jco.launch({
      name: "splitter-twin-answers",
      host: "127.0.0.1",
      env: { ROLE: "splitter", GREETER_URL: greeter.url, GREETER_TIMEOUT_MS: "5000" },
      slots: 1,
      slotDeadlineMs: 600,
      maxQueued: 1,
    });
    fleet.pods.push({ name: "splitter-twin-answers", url: "", process });
    const url = `http://127.0.0.1:${await process.port}`;
    // One request holds the slot, one waits: the third finds the queue full.
    const holding = fetch(`${url}/split/Sam`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const waiting = fetch(`${url}/split/Po`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await fetch(`${url}/split/Aang`, { headers: { accept: "application/json" } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.headers.get(TWIN_ANSWER_HEADER)).toBe("pod-front");
    expect(refused.headers.get("x-served-by")).toBe("splitter-twin-answers");
    expect(refused.headers.get("content-length")).not.toBeNull();
    expect(await refused.json()).toMatchObject({ status: 503, error: expect.stringMatching(/^pod: every slot is busy/) });

    const late = await holding;
    expect(late.status).toBe(504);
    expect(late.headers.get(TWIN_ANSWER_HEADER)).toBe("pod-front");
    expect(late.headers.get("x-served-by")).toBe("splitter-twin-answers");
    const text = await late.text();
    expect(late.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    expect(text).toMatch(/^pod splitter-twin-answers \(slot \d+\) sent no answer within 600 ms\n$/);
    await (await waiting).arrayBuffer();
  });

  it("the component's own answers never carry the header", async () => {
    const greeterPod = await fleet.start("greeter-twin-answers", { ROLE: "greeter" });
    const res = await fetch(`${greeterPod.url}/Po`);
    expect(res.headers.get(TWIN_ANSWER_HEADER)).toBeNull();
    expect(await res.text()).toBe("Greetings Po!");
  });
});
