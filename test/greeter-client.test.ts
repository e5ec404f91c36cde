// One downstream call, against greeters written to misbehave: both protocols
// (JSON and the seed's plain text), and answers that are too big, not UTF-8,
// compressed or endless. The fetch is injected, so each answer is exact.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { askGreeter, type Fetch, parseAnswer } from "../src/greeter-client";
import { echoOracleText, ESCAPED_CATEGORIES, HOSTILE_TEXTS } from "./support/echo-oracle";

/** The contract's cap on a greeter's answer (README: "It reads at most 64 KiB of an answer"). */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Any raw character the echo rule forbids in an answer. */
const RAW_FORBIDDEN = new RegExp(`[${ESCAPED_CATEGORIES.map((c) => `\\p{${c}}`).join("")}]`, "u");

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
      error: { name: "Sam", kind: "bad-answer", reason: "the greeter's answer is larger than 65536 bytes" },
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
    expect(outcome).toMatchObject({ ok: false, error: { kind: "timeout", reason: "the greeter did not answer within 100 ms" } });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(cancelled).toBe(true);
  });

  it("an answer that is not UTF-8 is a bad answer, not a connection failure", async () => {
    const outcome = await askGreeter("Sam", call(answering(new Uint8Array([0x48, 0xff, 0xfe]))));
    expect(outcome).toMatchObject({ ok: false, error: { kind: "bad-answer", reason: "the greeter's answer is not valid UTF-8" } });
  });

  it("a compressed answer is a bad answer that names the encoding", async () => {
    const outcome = await askGreeter("Sam", call(answering(new Uint8Array([0x1f, 0x8b]), { headers: { "content-encoding": "gzip" } })));
    expect(outcome).toMatchObject({
      ok: false,
      error: { kind: "bad-answer", reason: "the greeter answered with Content-Encoding gzip, though asked for identity" },
    });
  });

  it("quotes a hostile error body by the echo rule: 80 characters, escaped", async () => {
    const outcome = await askGreeter("Sam", call(answering(`\u0001${"x".repeat(1000)}`, { status: 500 })));
    expect(outcome).toMatchObject({ ok: false, error: { reason: `the greeter answered 500: \\u0001${"x".repeat(79)}…` } });
  });

  it.each([
    ["RLO and LRI", "\u202eevil\u2066x\u2069"],
    ["zero-width characters", "a\u200bb\u200c\u200d\ufeff"],
    ["ANSI escapes", "\u001b[2J\u001b[Hboom\u001b]0;pwned\u0007"],
    ["C1 controls and ALM", "\u009b31m\u0085\u061c"],
    ["a 10 KB line", `${"\u202e".repeat(10)}${"x".repeat(10_000)}`],
    ["10 KB of escapes", "\u001b".repeat(10_000)],
  ])("a hostile error body (%s), plain or as JSON's error, is echoed by the rule", async (_what, text) => {
    for (const body of [text, JSON.stringify({ error: text, status: 500 })]) {
      const outcome = await askGreeter("Sam", call(answering(body, { status: 500 })));
      expect(outcome).toEqual({ ok: false, error: { name: "Sam", kind: "bad-answer", reason: `the greeter answered 500: ${echoOracleText(text.trim())}` } });
      if (!outcome.ok) expect(RAW_FORBIDDEN.test(outcome.error.reason)).toBe(false);
    }
  });

  it("any hostile body, as an error or as a non-greeting, reaches the reason only by the rule (property)", async () => {
    const hostile = fc
      .array(fc.oneof(fc.constantFrom(...HOSTILE_TEXTS), fc.string({ unit: "binary", maxLength: 12 }), fc.string({ maxLength: 40 })), { minLength: 1, maxLength: 30 })
      .map((parts) => parts.join(""))
      .filter((text) => text.trim() !== "");
    await fc.assert(
      fc.asyncProperty(hostile, fc.constantFrom(500, 503, 200), async (text, status) => {
        const outcome = await askGreeter("Sam", call(answering(text, { status, headers: { "content-type": "text/html" } })));
        const expected = status === 200 ? `the greeter's answer is not a greeting: ${echoOracleText(text.trim())}` : `the greeter answered ${status}: ${echoOracleText(text.trim())}`;
        expect(outcome).toMatchObject({ ok: false, error: { reason: expected } });
        if (!outcome.ok) expect(RAW_FORBIDDEN.test(outcome.error.reason)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("a Content-Encoding value is echoed by the rule: C1 controls escaped, cut at 80", async () => {
    for (const encoding of ["x\u0085\u009by", `br${"\u0080".repeat(200)}`]) {
      const outcome = await askGreeter("Sam", call(answering("Hello Sam!", { headers: { "content-encoding": encoding } })));
      expect(outcome).toMatchObject({
        ok: false,
        error: { reason: `the greeter answered with Content-Encoding ${echoOracleText(encoding)}, though asked for identity` },
      });
    }
  });

  it("a greeting holding what the echo rule escapes (bidi, zero-width, C1) is not a greeting", async () => {
    for (const greeting of ["Hello \u202eSam!", "Hello S\u200bam!", "Hello \u009bSam!", "Hello Sam!\u2028"]) {
      const outcome = await askGreeter("Sam", call(answering(JSON.stringify({ greeting }), { headers: { "content-type": "application/json" } })));
      expect(outcome).toMatchObject({ ok: false, error: { kind: "bad-answer", reason: expect.stringMatching(/^the greeter's answer is not a greeting: /) } });
    }
  });

  it("reads an answer of exactly 64 KiB, and refuses one of 64 KiB + 1", async () => {
    const padded = (bytes: number) => {
      const start = '{"greeting":"Hello Sam!","servedBy":"g-1","pad":"';
      const end = '"}';
      return start + "x".repeat(bytes - start.length - end.length) + end;
    };
    expect(Buffer.byteLength(padded(MAX_ANSWER_BYTES))).toBe(65_536);
    const json = { headers: { "content-type": "application/json" } };
    expect(await askGreeter("Sam", call(answering(padded(MAX_ANSWER_BYTES), json)))).toMatchObject({
      ok: true,
      part: { greeting: "Hello Sam!", servedBy: "g-1" },
    });
    expect(await askGreeter("Sam", call(answering(padded(MAX_ANSWER_BYTES + 1), json)))).toEqual({
      ok: false,
      error: { name: "Sam", kind: "bad-answer", reason: "the greeter's answer is larger than 65536 bytes" },
    });
  });

  it.each([301, 302, 307, 308])("follows no redirect: a %i is a bad answer, and fetch is told not to follow", async (status) => {
    const seen: (RequestRedirect | undefined)[] = [];
    const fetch: Fetch = async (_url, init) => {
      seen.push(init?.redirect);
      return new Response("moved", { status, headers: { location: "http://evil.example/Sam" } });
    };
    const outcome = await askGreeter("Sam", call(fetch));
    expect(outcome).toEqual({ ok: false, error: { name: "Sam", kind: "bad-answer", reason: `the greeter answered ${status}: moved` } });
    expect(seen).toEqual(["manual"]);
  });
});

describe("a greeter's pod name (X-Served-By, servedBy) is bounded like its body", () => {
  const headers = (servedBy: string, type = "text/plain") => new Headers({ "content-type": type, "x-served-by": servedBy });

  it.each([
    ["a pod name", "name-greeter-pod-1", "name-greeter-pod-1"],
    ["padded", "  padded  ", "padded"],
    ["253 characters", "a".repeat(253), "a".repeat(253)],
    ["254 characters", "a".repeat(254), "unknown"],
    ["70 KB", "a".repeat(70_000), "unknown"],
    ["a space", "has space", "unknown"],
    ["not ASCII", "pöd", "unknown"],
    ["empty", "", "unknown"],
  ])("X-Served-By: %s", (_what, value, expected) => {
    expect(parseAnswer("Hello Sam!", headers(value))).toEqual({ greeting: "Hello Sam!", servedBy: expected });
  });

  it.each([
    ["70 KB", "a".repeat(70_000), "unknown"],
    ["RLO", "pod\u202e1", "unknown"],
    ["NUL", "pod\u0000", "unknown"],
    ["a pod name", "pod-2", "pod-2"],
  ])("JSON servedBy: %s", (_what, servedBy, expected) => {
    expect(parseAnswer(JSON.stringify({ greeting: "Hello Sam!", servedBy }), headers("h", "application/json"))).toEqual({
      greeting: "Hello Sam!",
      servedBy: expected,
    });
  });

  it("a Content-Type longer than any media type is not read as one", () => {
    expect(parseAnswer("Hello Sam!", new Headers({ "content-type": `text/plain; x=${"a".repeat(70_000)}` }))).toBeUndefined();
  });
});
