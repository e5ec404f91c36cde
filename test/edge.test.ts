// The edge reads the environment per request and hands the adapter bodies it can write.
import { describe, expect, it } from "vitest";
import { createEdge, withWritableBody } from "../src/edge";

describe("createEdge", () => {
  it("reads the environment on every request, never before", async () => {
    let reads = 0;
    let env: Record<string, string> = { ROLE: "greeter", POD_NAME: "a" };
    const edge = createEdge({ readEnv: () => (reads++, env), fetch });
    expect(reads).toBe(0);

    const first = await edge(new Request("http://x/Sherlock"));
    expect(await first.text()).toBe("Hello Sherlock!");
    expect(first.headers.get("x-served-by")).toBe("a");

    env = { ROLE: "bogus", POD_NAME: "b" };
    const second = await edge(new Request("http://x/Sherlock"));
    expect(second.status).toBe(500);
    expect(second.headers.get("x-served-by")).toBe("b");
    expect(reads).toBe(2);
  });

  it("uses the host's REQUEST_ID when the client sent none", async () => {
    const edge = createEdge({ readEnv: () => ({ ROLE: "greeter", REQUEST_ID: "host-1" }), fetch });
    expect((await edge(new Request("http://x/Po"))).headers.get("x-request-id")).toBe("host-1");
    const withHeader = await edge(new Request("http://x/Po", { headers: { "x-request-id": "client-1" } }));
    expect(withHeader.headers.get("x-request-id")).toBe("client-1");
  });

  it("answers HEAD with an empty body rather than a null one", async () => {
    const edge = createEdge({ readEnv: () => ({ ROLE: "greeter" }), fetch });
    const res = await edge(new Request("http://x/Sherlock", { method: "HEAD" }));
    expect(res.status).toBe(200);
    expect(res.body).not.toBeNull();
    expect(await res.text()).toBe("");
    expect(res.headers.get("content-length")).toBeNull();
  });
});

describe("withWritableBody", () => {
  it("keeps responses that have a body untouched", () => {
    const res = new Response("x");
    expect(withWritableBody(res)).toBe(res);
  });
});
