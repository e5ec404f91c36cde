// Adversarial input for both roles: every answer is the exact greeting or a 400
// with a reason (never a 5xx, never a hang), no name can change the downstream
// request, and the host process survives all of it.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config";
import { createRouter } from "../src/router";
import { waitHealthy } from "../scripts/lib/pods";
import { ensureTranspiled } from "../scripts/lib/transpile";
import { podFleet } from "./support/pod-fleet";
import { startStubGreeter, type StubGreeter } from "./support/stub-greeter";

// The oracle is written independently of src/names.ts: Node has \p{..}, the component does not.
const NAME = /^[\p{L}\p{M}\p{Nd} '.-]{1,64}$/u;
const HAS_LETTER_OR_DIGIT = /[\p{L}\p{Nd}]/u;
const expectedGreeting = (decoded: string): string | undefined => {
  const name = decoded.trim();
  if (!NAME.test(name) || !HAS_LETTER_OR_DIGIT.test(name)) return undefined;
  return /^[Ss]/.test(name) ? `Hello ${name}!` : `Greetings ${name}!`;
};
const MAX_NAMES = 16;

/** Any text a user might type, including whole grapheme clusters, emoji and RTL marks. */
const anyName = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 70 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.stringMatching(/^[A-Za-z' .-]{0,66}$/),
  fc.stringMatching(/^[A-Sa-s/?#%@:;,=&+' .\\-]{1,10}$/),
);

/** Hand-made path segments: stray and double encodings, invalid UTF-8, control bytes. */
const rawSegment = fc
  .array(
    fc.oneof(
      fc.constantFrom("%", "%2F", "%252F", "%00", "%0D%0A", "%E0%A4%A", "%ED%A0%80", "%E2%80%8F", "%F0%9F%98%80"),
      fc.constantFrom("..", ".", "@host", "%25", "%2C", "%20", "%2E", ";", "=", "~", "'", ":", "$", "!"),
      fc.integer({ min: 0, max: 255 }).map((byte) => `%${byte.toString(16).padStart(2, "0")}`),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((chunks) => chunks.join(""))
  // Dot segments are URL syntax, resolved before any router sees them.
  .filter((segment) => new URL(`http://x/${segment}`).pathname !== "/");

const safeEncode = (name: string) => {
  try {
    return encodeURIComponent(name);
  } catch {
    // Lone surrogates: send them as the (invalid) UTF-8 bytes a careless client would.
    return [...name].map((ch) => (/[\ud800-\udfff]/.test(ch) ? "%ED%A0%80" : encodeURIComponent(ch))).join("");
  }
};

interface Target {
  greeter: (path: string) => Promise<Response>;
  splitter: (path: string) => Promise<Response>;
  recorder: StubGreeter;
}

function checkGreeterAnswer(decodedName: string | undefined, status: number, body: string) {
  expect([200, 400]).toContain(status);
  if (status === 200) {
    expect(body).toMatch(/^(Hello|Greetings) .+!$/);
    const name = body.replace(/^(Hello|Greetings) /, "").slice(0, -1);
    expect(expectedGreeting(name)).toBe(body);
    if (decodedName !== undefined) expect(body).toBe(expectedGreeting(decodedName));
  } else {
    if (decodedName !== undefined) expect(expectedGreeting(decodedName)).toBeUndefined();
    expect(body).toMatch(/^(name|empty name) /);
  }
}

async function checkSplit(target: Target, names: string[]) {
  target.recorder.requests.length = 0;
  const res = await target.splitter(`/split/${names.map(safeEncode).join(",")}`);
  const body = await res.text();
  const items = names.join(",").split(",");
  const greetings = items.map((item) => (item.trim() === "" ? undefined : expectedGreeting(item)));
  const valid = items.length <= MAX_NAMES && greetings.every((g) => g !== undefined);
  if (names.some((n) => /[\ud800-\udfff]/.test(n))) {
    expect([200, 400]).toContain(res.status); // the substituted bytes decide
  } else if (valid) {
    expect(res.status).toBe(200);
    expect(body).toBe(greetings.join(" and "));
  } else {
    expect(res.status).toBe(400);
    expect(target.recorder.requests).toEqual([]);
  }
  // Whatever was sent downstream is exactly one encoded segment on GREETER_URL's host.
  for (const request of target.recorder.requests) {
    expect(request.url).toMatch(/^\/[^/?#]+$/);
    expect(request.host).toBe(new URL(target.recorder.url).host);
    expect(decodeURIComponent(request.url.slice(1))).not.toMatch(/[/?#]/);
  }
}

const NASTY = [
  "..",
  "%2F",
  "a%2Fb",
  "%252F",
  "@evil.example",
  "x@127.0.0.2",
  "#frag",
  "?q=1",
  "%00",
  "%0D%0AX-Injected:%201",
  "a".repeat(8192),
  ",".repeat(10_000),
  "%E0%A4%A",
  "%ED%A0%80",
  "%E2%80%8FPo",
  "%F0%9F%98%80",
  "Sherlock,%2F..%2Fadmin",
  "%5C..%5Cadmin",
];

function suite(name: string, numRuns: number, setup: () => Promise<Target>, teardown: () => Promise<void>) {
  describe(name, () => {
    let target: Target;
    beforeAll(async () => {
      target = await setup();
    });
    afterAll(teardown);

    it("greeter: any name a client encodes gets its exact greeting or a 400", async () => {
      await fc.assert(
        fc.asyncProperty(anyName, async (name) => {
          const encoded = safeEncode(name);
          fc.pre(new URL(`http://x/${encoded}`).pathname !== "/");
          const res = await target.greeter(`/${encoded}`);
          const lone = /[\ud800-\udfff]/.test(name);
          checkGreeterAnswer(lone ? undefined : name, res.status, await res.text());
        }),
        { numRuns },
      );
    });

    it("greeter: hand-made encodings get a greeting or a 400, never a 5xx", async () => {
      await fc.assert(
        fc.asyncProperty(rawSegment, async (segment) => {
          const res = await target.greeter(`/${segment}`);
          checkGreeterAnswer(undefined, res.status, await res.text());
        }),
        { numRuns },
      );
    });

    it("splitter: any list is greeted exactly or refused whole, and downstream paths stay one segment", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(anyName, { minLength: 1, maxLength: 20 }), (names) => checkSplit(target, names)),
        { numRuns },
      );
    });

    it.each(NASTY.map((item) => [item.length > 40 ? `${item.slice(0, 20)}… (${item.length} chars)` : item, item]))(
      "splitter: %s",
      async (_label, item) => {
        if (!item.includes(",")) {
          const res = await target.greeter(`/${item}`);
          if (new URL(`http://x/${item}`).pathname !== "/") checkGreeterAnswer(undefined, res.status, await res.text());
        }
        target.recorder.requests.length = 0;
        for (const path of [`/split/${item}`, `/split/Sherlock,${item}`]) {
          const res = await target.splitter(path);
          expect(res.status).toBeLessThan(500);
          if (res.status !== 200) expect(await res.text()).not.toBe("");
        }
        for (const request of target.recorder.requests) {
          expect(request.url).toMatch(/^\/[^/?#]+$/);
          expect(request.host).toBe(new URL(target.recorder.url).host);
        }
      },
    );
  });
}

let recorder: StubGreeter;

suite(
  "router (in process)",
  300,
  async () => {
    recorder = await startStubGreeter();
    const greeter = createRouter(parseConfig({ ROLE: "greeter" }), { fetch });
    const splitter = createRouter(parseConfig({ ROLE: "splitter", GREETER_URL: recorder.url }), { fetch });
    return {
      greeter: async (path) => greeter.request(path),
      splitter: async (path) => splitter.request(path),
      recorder,
    };
  },
  async () => recorder.close(),
);

const fleet = podFleet();
let podRecorder: StubGreeter;
suite(
  "the real component (one instance, many requests)",
  60,
  async () => {
    ensureTranspiled();
    podRecorder = await startStubGreeter();
    const greeter = await fleet.start("greeter", { ROLE: "greeter" });
    const splitter = await fleet.start("splitter", { ROLE: "splitter", GREETER_URL: podRecorder.url });
    await Promise.all(fleet.pods.map((pod) => waitHealthy(pod, 20_000)));
    const get = (base: string) => (path: string) => fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
    return { greeter: get(greeter.url), splitter: get(splitter.url), recorder: podRecorder };
  },
  async () => {
    // Nothing above may have crashed a host process.
    for (const pod of fleet.pods) {
      expect(pod.child.exitCode).toBeNull();
      expect((await fetch(`${pod.url}/healthz`)).status).toBe(200);
    }
    await fleet.stopAll();
    await podRecorder.close();
  },
);
