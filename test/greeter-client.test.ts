// One downstream call, against greeters written to misbehave: both protocols
// (JSON and the seed's plain text), and answers that are too big, not UTF-8,
// compressed or endless. The fetch is injected, so each answer is exact.
import { describe, expect, it } from "vitest";
import { askGreeter, type Fetch, MAX_ANSWER_BYTES, parseAnswer } from "../src/greeter-client";

const call = (fetch: Fetch, timeoutMs = 1_000) => ({ baseUrl: "http://greeter:70", timeoutMs, requestId: "r-1", fetch });
const answering = (body: BodyInit | null, init: ResponseInit = {}): Fetch => async () => new Response(body, init);

describe("parseAnswer", () => {
  it("reads JSON when the greeter says it is JSON", () => {
    const headers = new Headers({ "content-type": "application/json; charset=utf-8", "x-served-by": "h" });
    expect(parseAnswer('{"greeting":"Hello Sam!","servedBy":"pod-1"}', headers)).toEqual({ greeting: "Hello Sam!", servedBy: "pod-1" });
    expect(parseAnswer('{"greeting":"Hello Sam!"}', headers)).toEqual({ greeting: "Hello Sam!", servedBy: "h" });
    expect(parseAnswer('{"greeting":42}', headers)).toBeUndefined();
    expect(parseAnswer("Hello Sam!", headers)).toBeUndefined();
  });

  it("reads the seed's plain text: the body is the greeting, X-Served-By names the pod (else unknown)", () => {
    expect(parseAnswer("Hello Sherlock!\n", new Headers({ "content-type": "text/plain" }))).toEqual({
      greeting: "Hello Sherlock!",
      servedBy: "unknown",
    });
    expect(parseAnswer("Greetings Po!", new Headers({ "x-served-by": "seed-1" }))).toEqual({ greeting: "Greetings Po!", servedBy: "seed-1" });
  });

  it.each([
    ["", "text/plain"],
    ["two\nlines", "text/plain"],
    ["<html>a proxy page</html>", "text/html"],
    ["x".repeat(257), "text/plain"],
  ])("refuses %j (%s) as a greeting", (body, type) => {
    expect(parseAnswer(body, new Headers({ "content-type": type }))).toBeUndefined();
  });
});

describe("askGreeter", () => {
  it("asks for JSON first, plain text second, no compression, and forwards the request id", async () => {
    let seen: Headers | undefined;
    const fetch: Fetch = async (_url, init) => {
      seen = new Headers(init?.headers);
      return new Response("Hello Sam!");
    };
    const outcome = await askGreeter("Sam", call(fetch));
    expect(outcome).toMatchObject({ ok: true, part: { name: "Sam", greeting: "Hello Sam!", servedBy: "unknown" } });
    expect(seen?.get("accept")).toBe("application/json, text/plain;q=0.9");
    expect(seen?.get("accept-encoding")).toBe("identity");
    expect(seen?.get("x-request-id")).toBe("r-1");
  });

  it("stops reading an answer past 64 KiB and says so, cancelling the rest", async () => {
    let pulled = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(16 * 1024).fill(97));
      },
      cancel() {
        cancelled = true;
      },
    });
    const outcome = await askGreeter("Sam", call(answering(endless, { headers: { "content-type": "text/plain" } })));
    expect(outcome).toEqual({
      ok: false,
      failure: { name: "Sam", kind: "bad-answer", reason: `the greeter's answer is larger than ${MAX_ANSWER_BYTES} bytes` },
    });
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThanOrEqual(MAX_ANSWER_BYTES / (16 * 1024) + 2);
  });

  it("cancels a body that is still arriving when the deadline passes", async () => {
    let cancelled = false;
    const trickle = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("Hel"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const outcome = await askGreeter("Sam", call(answering(trickle), 100));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: "timeout", reason: "the greeter did not answer within 100 ms" } });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(cancelled).toBe(true);
  });

  it("an answer that is not UTF-8 is a bad answer, not a connection failure", async () => {
    const outcome = await askGreeter("Sam", call(answering(new Uint8Array([0x48, 0xff, 0xfe]))));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: "bad-answer", reason: "the greeter's answer is not valid UTF-8" } });
  });

  it("a compressed answer is a bad answer that names the encoding", async () => {
    const outcome = await askGreeter("Sam", call(answering(new Uint8Array([0x1f, 0x8b]), { headers: { "content-encoding": "gzip" } })));
    expect(outcome).toMatchObject({
      ok: false,
      failure: { kind: "bad-answer", reason: "the greeter answered with Content-Encoding gzip, though asked for identity" },
    });
  });

  it("quotes a hostile error body short and escaped", async () => {
    const outcome = await askGreeter("Sam", call(answering(`\u0001${"x".repeat(1000)}`, { status: 500 })));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.failure.reason).toMatch(/^the greeter answered 500: \\u0001x{199}…$/);
    }
  });
});
