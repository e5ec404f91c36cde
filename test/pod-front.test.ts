// A jco pod's front (host/pod.ts) under hostile clients: a slot is only handed a
// request that is ready to run. Bodies are read and bounded at the front first,
// with a deadline; a client too slow gets a 408 and one too big a 413, each saying
// why and that the twin made it; a GET with a body gets no slot time at all.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PodStats } from "../host/pod";
import { bodyVerdict, DEFAULT_BODY_LIMITS } from "../host/request-body";
import { requireRuntime } from "../host/runtimes";
import { TWIN_ANSWER_HEADER } from "../host/twin-answer";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";
import { podFleet, type TestPod } from "./support/pods";

const jco = requireRuntime("jco");

interface Exchange {
  socket: Socket;
  /** Resolves with what the server sent by the time it closed the connection (or the test gave up). */
  answer: Promise<{ status: number; head: string; body: string; at: number }>;
}

/** Opens a connection, writes `head`, and collects the answer until the server closes. */
function open(url: string, head: string, giveUpMs = 20_000): Exchange {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  const answer = new Promise<{ status: number; head: string; body: string; at: number }>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const [first = "", ...rest] = text.split("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(first)?.[1] ?? 0), head: first, body: rest.join("\r\n\r\n"), at: performance.now() });
    });
  });
  socket.write(head);
  return { socket, answer };
}

/** Sends one byte every `everyMs` until the connection closes or `max` bytes went (bounded). */
function trickle(exchange: Exchange, everyMs: number, max: number): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (exchange.socket.destroyed || !exchange.socket.writable || sent >= max) {
      clearInterval(timer);
      return;
    }
    exchange.socket.write("x");
    sent++;
  }, everyMs);
  exchange.socket.once("close", () => clearInterval(timer));
}

const served = (stats: PodStats) => stats.slots.reduce((total, slot) => total + slot.served, 0);

describe("bodyVerdict (pure): what a head alone decides", () => {
  const limits = { maxBytes: 100, deadlineMs: 1_000 };
  it.each([
    ["GET", {}, undefined],
    ["GET", { "content-length": "0" }, undefined],
    ["GET", { "content-length": "5" }, 413],
    ["HEAD", { "transfer-encoding": "chunked" }, 413],
    ["POST", { "content-length": "100" }, undefined],
    ["POST", { "content-length": "101" }, 413],
    ["POST", { "transfer-encoding": "chunked" }, undefined],
  ])("%s %j -> %s", (method, headers, status) => expect(bodyVerdict(method, headers, limits)?.status).toBe(status));
});

describe("the jco pod's front reads and bounds request bodies before a slot sees them", () => {
  const fleet = podFleet(jco);
  let pod: TestPod;

  async function stats(): Promise<PodStats> {
    const answer = (await pod.process.stats()).pod;
    if (!answer) throw new Error("the pod did not report its stats");
    return answer;
  }

  beforeAll(async () => {
    // One slot: a request that held it would starve every other.
    pod = await fleet.start("greeter-front", { ROLE: "greeter" }, { slots: 1 });
  });
  afterAll(() => fleet.stopAll());

  it("a client sending its body a byte at a time holds no slot: others are answered meanwhile, and it gets a 408 saying why", async () => {
    const slow = open(pod.url, "POST /Aang HTTP/1.1\r\nHost: pod\r\nContent-Length: 1000\r\n\r\n");
    trickle(slow, 200, 200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const res = await fetch(`${pod.url}/Po`, { signal: AbortSignal.timeout(DEFAULT_BODY_LIMITS.deadlineMs * 3) });
    const answeredAt = performance.now();
    expect([res.status, await res.text()]).toEqual([200, "Greetings Po!"]);
    const refused = await slow.answer;
    // The other client was served while the slow one was still sending.
    expect(answeredAt).toBeLessThan(refused.at);
    expect(refused.status).toBe(408);
    expect(refused.head.toLowerCase()).toContain(`${TWIN_ANSWER_HEADER}: pod-front`);
    expect(refused.head.toLowerCase()).toContain("connection: close");
    expect(refused.body).toMatch(/^pod: the request body did not arrive within \d+ ms/);
  });

  it("a GET with a body gets no slot time at all: 413 at once, the body never read", async () => {
    const before = served(await stats());
    const started = performance.now();
    const exchange = open(pod.url, "GET /Aang HTTP/1.1\r\nHost: pod\r\nContent-Length: 10000000\r\n\r\n");
    trickle(exchange, 1_000, 30);
    const answer = await exchange.answer;
    expect(answer.status).toBe(413);
    expect(answer.body).toBe("pod: a GET request may not carry a body here; send it without one\n");
    expect(answer.head.toLowerCase()).toContain(`${TWIN_ANSWER_HEADER}: pod-front`);
    // Answered on its head alone, long before any body deadline.
    expect(answer.at - started).toBeLessThan(DEFAULT_BODY_LIMITS.deadlineMs);
    expect(served(await stats())).toBe(before);
  });

  it("a body declared above the limit is refused at once with a 413; one that grows past it while arriving, too", async () => {
    const declared = open(pod.url, `POST /Aang HTTP/1.1\r\nHost: pod\r\nContent-Length: ${DEFAULT_BODY_LIMITS.maxBytes + 1}\r\n\r\n`);
    const refused = await declared.answer;
    expect(refused.status).toBe(413);
    expect(refused.body).toMatch(/^pod: the request body of \d+ bytes is above this pod's limit of \d+ bytes\n$/);

    const chunk = "x".repeat(16 * 1024);
    const chunked = open(pod.url, "POST /Aang HTTP/1.1\r\nHost: pod\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (let i = 0; i < 8 && !chunked.socket.destroyed; i++) chunked.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const grown = await chunked.answer;
    expect(grown.status).toBe(413);
    expect(grown.body).toMatch(/^pod: the request body is above this pod's limit/);
  });

  it("a small body in time still reaches the component, which answers for itself (405 for a POST)", async () => {
    const res = await fetch(`${pod.url}/Aang`, { method: "POST", body: "x".repeat(100) });
    expect(res.status).toBe(405);
    expect(res.headers.get(TWIN_ANSWER_HEADER)).toBeNull();
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  it("four slow clients do not starve a one-slot pod", async () => {
    const slow = Array.from({ length: 4 }, () => {
      const exchange = open(pod.url, "GET /Aang HTTP/1.1\r\nHost: pod\r\nContent-Length: 10000000\r\n\r\n");
      trickle(exchange, 1_000, 30);
      return exchange;
    });
    const posts = Array.from({ length: 4 }, () => {
      const exchange = open(pod.url, "POST /Aang HTTP/1.1\r\nHost: pod\r\nContent-Length: 1000\r\n\r\n");
      trickle(exchange, 1_000, 30);
      return exchange;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${pod.url}/Sam`, { signal: AbortSignal.timeout(DEFAULT_BODY_LIMITS.deadlineMs * 3) });
      expect(await res.text()).toBe("Hello Sam!");
    }
    const answeredAt = performance.now();
    const answers = await Promise.all([...slow, ...posts].map((e) => e.answer));
    expect(answers.map((a) => a.status)).toEqual([413, 413, 413, 413, 408, 408, 408, 408]);
    expect(answers.slice(4).every((a) => a.at > answeredAt)).toBe(true);
    // The 408s come at the body deadline, not at Node's own 300 s request timeout.
    expect(Math.max(...answers.map((a) => a.at)) - answeredAt).toBeLessThan(DEFAULT_BODY_LIMITS.deadlineMs + BUSY_MACHINE_MARGIN_MS);
  });
});
