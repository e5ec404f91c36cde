// The edge reads the environment per request and hands the adapter bodies it can write.
import { describe, expect, it } from "vitest";
import { createEdge } from "../src/edge";

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

  it("answers HEAD as GET (status, headers, body), leaving the body to the HTTP server to drop", async () => {
    const edge = createEdge({ readEnv: () => ({ ROLE: "greeter", POD_NAME: "a" }), fetch });
    const headers = { "x-request-id": "same" };
    for (const path of ["/Sherlock", "/a%2Fb", "/x/y"]) {
      const get = await edge(new Request(`http://x${path}`, { headers }));
      const head = await edge(new Request(`http://x${path}`, { method: "HEAD", headers }));
      expect(head.status).toBe(get.status);
      expect([...head.headers]).toEqual([...get.headers]);
      expect(await head.text()).toBe(await get.text());
    }
  });

  it("HEAD answers exactly as GET on every status (200, 400, 404, 500, 502, 504; HEAD itself is never a 405)", async () => {
    const fetchByName = async (url: string) => {
      if (url.endsWith("/Bad")) return new Response("no", { status: 503 });
      if (url.endsWith("/Slow")) return new Promise<Response>(() => {});
      return Response.json({ greeting: "Greetings X!", servedBy: "g" });
    };
    const envs: Record<string, Record<string, string>> = {
      splitter: { ROLE: "splitter", POD_NAME: "s", GREETER_TIMEOUT_MS: "50" },
      bogus: { ROLE: "bogus", POD_NAME: "b" },
    };
    const rows: [string, string, number][] = [
      ["splitter", "/split/X", 200],
      ["splitter", "/split/a%2Fb", 400],
      ["splitter", "/nope", 404],
      ["bogus", "/healthz", 500],
      ["splitter", "/split/Bad", 502],
      ["splitter", "/split/Slow", 504],
    ];
    for (const [env, path, status] of rows) {
      const edge = createEdge({ readEnv: () => envs[env]!, fetch: fetchByName });
      const init = { headers: { "x-request-id": "same" } };
      const get = await edge(new Request(`http://x${path}`, init));
      const head = await edge(new Request(`http://x${path}`, { ...init, method: "HEAD" }));
      expect([get.status, head.status], path).toEqual([status, status]);
      expect([...head.headers], path).toEqual([...get.headers]);
    }
  });
});
