// The twin's connections have an ingress's limits (host/connections.ts): a head
// that trickles in is answered 408 and closed, pipelined requests are served one
// at a time and in order, a client that pipelines hundreds without reading is cut
// before they reach the pods, an idle connection is closed. The limits are the
// defaults npm start runs with, exercised through a Service's NodePort.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, type LogEntry, startCluster } from "../host/cluster";
import type { AddressInfo } from "node:net";
import { closeWhenSilent, DEFAULT_CONNECTION_LIMITS, guardedServer } from "../host/connections";
import { requireRuntime } from "../host/runtimes";
import { TWIN_ANSWER_HEADER } from "../host/twin-answer";
import { pollUntil } from "../lib/wait";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";

const jco = requireRuntime("jco");

const LIMITS = DEFAULT_CONNECTION_LIMITS;

/** A raw connection: what the server sent, and when it closed the connection (or the test gave up). */
function rawConnection(url: string, giveUpMs: number) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  const opened = performance.now();
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  const closed = new Promise<{ afterMs: number; byServer: boolean }>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ afterMs: performance.now() - opened, byServer: false });
    }, giveUpMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve({ afterMs: performance.now() - opened, byServer: true });
    });
  });
  return { socket, closed, text: () => Buffer.concat(chunks).toString("latin1") };
}

describe("closeWhenSilent (pure)", () => {
  it.each([
    [{ inFlight: false, answering: false, unsent: 0 }, true, "idle"],
    [{ inFlight: true, answering: false, unsent: 0 }, false, "waiting for the pod's answer: the Service's deadline decides"],
    [{ inFlight: true, answering: true, unsent: 0 }, false, "the pod is slow between two pieces: the forward's deadline decides"],
    [{ inFlight: true, answering: true, unsent: 4096 }, true, "the client does not take its answer"],
  ])("%j -> %s (%s)", (state, close) => expect(closeWhenSilent(state)).toBe(close));
});

describe("a silent connection on a guarded server (short limits)", () => {
  const limits = { ...LIMITS, stallMs: 1_000, idleMs: 1_000 };

  async function serve(handler: Parameters<typeof guardedServer>[0]) {
    const server = guardedServer(handler, "service", limits);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    };
  }

  it("a client that does not take its answer is cut after the stall time; the twin stops producing it", async () => {
    let written = 0;
    let ended = false;
    const chunk = Buffer.alloc(64 * 1024, "a");
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      // Bounded: at most 256 MiB, written only as fast as the socket takes it.
      const pump = () => {
        while (written < 4096 && res.write(chunk)) written++;
        if (written >= 4096) res.end();
      };
      res.on("drain", pump);
      res.once("close", () => (ended = true));
      pump();
    });
    try {
      const connection = rawConnection(server.url, limits.stallMs * 10);
      connection.socket.pause();
      connection.socket.write("GET /big HTTP/1.1\r\nHost: node\r\n\r\n");
      const started = performance.now();
      expect(await pollUntil(() => ended, limits.stallMs * 3 + BUSY_MACHINE_MARGIN_MS, 50)).toBe(true);
      expect(performance.now() - started).toBeGreaterThanOrEqual(limits.stallMs - 50);
      expect(written).toBeLessThan(4096);
      // The client, reading again, finds its connection closed.
      connection.socket.resume();
      expect((await connection.closed).byServer).toBe(true);
    } finally {
      server.close();
    }
  });

  it("a request whose answer is slower than the stall time is waited for: the forwarding step's deadline decides", async () => {
    const server = await serve((_req, res) => void setTimeout(() => res.end("late but fine"), limits.stallMs * 2.5));
    try {
      const res = await fetch(`${server.url}/slow`, { signal: AbortSignal.timeout(limits.stallMs * 10) });
      expect(await res.text()).toBe("late but fine");
    } finally {
      server.close();
    }
  });
});

describe("a Service's connections under abuse", () => {
  let cluster: Cluster;
  const log: LogEntry[] = [];
  const requestsFor = (path: string) => log.filter((e) => e.kind === "request" && e.record.path === path).length;

  beforeAll(async () => {
    cluster = await startCluster({ runtime: jco, splitterPort: 0, greeterPort: 0, log: (entry) => log.push(entry) });
  });
  afterAll(() => cluster?.stop());

  it("a request head that trickles in gets the twin's 408 and a closed connection at the head deadline", { timeout: 60_000 }, async () => {
    const connection = rawConnection(cluster.greeterUrl!, LIMITS.headersMs * 3);
    connection.socket.write("GET /Po HTTP/1.1\r\nHost: node\r\n");
    // One header line every half second, bounded.
    let lines = 0;
    const timer = setInterval(() => {
      if (connection.socket.destroyed || lines++ > 120) return clearInterval(timer);
      connection.socket.write(`X-Slow-${lines}: 1\r\n`);
    }, 500);
    const closed = await connection.closed;
    clearInterval(timer);
    expect(closed.byServer).toBe(true);
    expect(closed.afterMs).toBeLessThan(LIMITS.headersMs + 1_000 + BUSY_MACHINE_MARGIN_MS);
    expect(connection.text()).toMatch(/^HTTP\/1\.1 408 /);
    expect(connection.text().toLowerCase()).toContain(`${TWIN_ANSWER_HEADER}: service`);
    expect(connection.text()).toContain(`service: the request head did not arrive within ${LIMITS.headersMs} ms`);
  });

  it("a few pipelined requests are all answered, in order", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `Pipe${String.fromCharCode(97 + i)}`);
    const connection = rawConnection(cluster.greeterUrl!, 20_000);
    connection.socket.write(names.map((name, i) => `GET /${name} HTTP/1.1\r\nHost: node\r\n${i === names.length - 1 ? "Connection: close\r\n" : ""}\r\n`).join(""));
    expect((await connection.closed).byServer).toBe(true);
    const greetings = [...connection.text().matchAll(/Greetings (Pipe[a-z])!/g)].map((m) => m[1]);
    expect(greetings).toEqual(names);
  });

  it(`a client pipelining far more than it reads is cut: at most ${LIMITS.cutAfter} of its requests wait, and few reach a pod`, async () => {
    const connection = rawConnection(cluster.greeterUrl!, LIMITS.stallMs * 2);
    // Bounded: 1,500 requests, sent once; the client never reads an answer.
    connection.socket.pause();
    connection.socket.write("GET /Flood HTTP/1.1\r\nHost: node\r\n\r\n".repeat(1_500));
    const closed = await connection.closed;
    expect(closed.byServer).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(requestsFor("/Flood")).toBeLessThanOrEqual(LIMITS.cutAfter + 1);
  });

  it("a body refused by the pod's front (a GET with one) ends the client's connection too, not only the pod's", async () => {
    const connection = rawConnection(cluster.greeterUrl!, 20_000);
    connection.socket.write("GET /Aang HTTP/1.1\r\nHost: node\r\nContent-Length: 10000000\r\n\r\n");
    // Bounded: a byte a second, at most 30.
    let sent = 0;
    const timer = setInterval(() => {
      if (connection.socket.destroyed || sent++ >= 30) return clearInterval(timer);
      connection.socket.write("x");
    }, 1_000);
    const closed = await connection.closed;
    clearInterval(timer);
    expect(connection.text()).toMatch(/^HTTP\/1\.1 413 /);
    expect(connection.text().toLowerCase()).toContain(`${TWIN_ANSWER_HEADER}: pod-front`);
    expect(closed.byServer).toBe(true);
    expect(closed.afterMs).toBeLessThan(BUSY_MACHINE_MARGIN_MS * 5);
  });

  it("an idle keep-alive connection is closed after the idle time", async () => {
    const connection = rawConnection(cluster.greeterUrl!, LIMITS.idleMs * 3);
    connection.socket.write("GET /Idle HTTP/1.1\r\nHost: node\r\n\r\n");
    const closed = await connection.closed;
    expect(connection.text()).toMatch(/Greetings Idle!/);
    expect(closed.byServer).toBe(true);
    expect(closed.afterMs).toBeLessThan(LIMITS.idleMs + BUSY_MACHINE_MARGIN_MS * 2);
  });
});
