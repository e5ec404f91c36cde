// A greeter that answers right at the splitter's deadline must not kill a jco
// pod's slot. The guest cancels a body it is still reading when its deadline
// passes; StarlingMonkey leaves that read queued, and a later end-of-body from the
// host closed a stream already cancelled: an uncaught TypeError, a trap, and the
// slot's thread gone with every request on it. Greeters here answer at, just
// before and just after the deadline, whole or head first; every client must get
// an HTTP answer (200 or 504, or on a loaded machine a documented 503 refusal) and no
// slot may die.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYMENTS } from "../host/cluster";
import { guestDeadlineMs, type PodStats } from "../host/pod";
import { requireRuntime } from "../host/runtimes";
import { podFleet, type TestPod } from "./support/pods";

const jco = requireRuntime("jco");

const TIMEOUT_MS = 600;
const SLOTS = DEPLOYMENTS.find((d) => d.role === "splitter")!.slots;
const NAMES = Array.from({ length: 16 }, (_, i) => `Name${i}`).join(",");

/** A greeter answering each call `offsetMs` from the deadline (give or take `jitterMs`): whole, or its head at once and the body then. */
async function lateGreeter(): Promise<{ url: string; set(offsetMs: number, headFirst: boolean): void; close(): Promise<void> }> {
  let offsetMs = 0;
  let headFirst = false;
  const jitterMs = 30;
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? "/").slice(1));
    const body = JSON.stringify({ name, greeting: `Greetings ${name}!`, servedBy: "late-greeter" });
    if (headFirst) {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
    }
    const delay = Math.max(0, TIMEOUT_MS + offsetMs + (Math.random() * 2 - 1) * jitterMs);
    const timer = setTimeout(() => {
      if (!headFirst) res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    }, delay);
    res.once("close", () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set(offset, head) {
      offsetMs = offset;
      headFirst = head;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("guestDeadlineMs (pure): GREETER_TIMEOUT_MS read as the component reads it", () => {
  it.each([
    [undefined, 2_000],
    ["", 2_000],
    [" 600 ", 600],
    ["60000", 60_000],
    ["60001", 2_000],
    ["0", 2_000],
    ["1.5", 2_000],
    ["abc", 2_000],
  ])("%j -> %d", (raw, ms) => expect(guestDeadlineMs(raw)).toBe(ms));
});

describe("a greeter answering near the splitter's deadline (jco pod host)", () => {
  const fleet = podFleet(jco);
  let greeter: Awaited<ReturnType<typeof lateGreeter>>;
  let splitter: TestPod;

  beforeAll(async () => {
    greeter = await lateGreeter();
    splitter = await fleet.start(
      "splitter-deadline",
      { ROLE: "splitter", GREETER_URL: greeter.url, GREETER_TIMEOUT_MS: String(TIMEOUT_MS) },
      { slots: SLOTS },
    );
  });
  afterAll(async () => {
    await fleet.stopAll();
    await greeter?.close();
  });

  async function stats(): Promise<PodStats> {
    const answer = (await splitter.process.stats()).pod;
    if (!answer) throw new Error("the splitter did not report its stats");
    return answer;
  }

  it.each([
    ["just before the deadline, whole", -40, false],
    ["at the deadline, whole", 0, false],
    ["just after the deadline, whole", 40, false],
    ["just before the deadline, head first", -40, true],
    ["at the deadline, head first", 0, true],
    ["just after the deadline, head first", 40, true],
  ])("%s: every split gets an answer and no slot dies", { timeout: 60_000 }, async (_, offsetMs, headFirst) => {
    greeter.set(offsetMs, headFirst);
    const diedBefore = (await stats()).died;
    const outcomes: string[] = [];
    // Bounded: three rounds of one split per slot.
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: SLOTS }, async () => {
          try {
            const res = await fetch(`${splitter.url}/split/${NAMES}`, { signal: AbortSignal.timeout(10_000) });
            const text = await res.text();
            // On a loaded machine a split may be refused instead (the front found no slot in time, or the
            // splitter could not start its calls before its deadline): an answer too, named by its reason.
            const refused = res.status === 503 && /^(pod: no slot was free within \d+ ms|the splitter is overloaded: )/.test(text);
            outcomes.push(refused ? "refused" : String(res.status));
          } catch (error) {
            outcomes.push(`no answer: ${(error as Error).cause ?? error}`);
          }
        }),
      );
    }
    expect(outcomes.filter((o) => o !== "200" && o !== "504" && o !== "refused")).toEqual([]);
    expect((await stats()).died - diedBefore).toBe(0);
    // The pod still serves: a split that needs no greeter.
    expect((await fetch(`${splitter.url}/healthz`)).status).toBe(200);
  });
});
