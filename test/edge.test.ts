// The edge reads the environment per request and hands the adapter bodies it can write.
import { describe, expect, it } from "vitest";
import { createEdge } from "../src/edge";

/** The contract's headers (README, "Every response"), as one answer carries them. */
const contractHeaders = (res: Response) => ({
  servedBy: res.headers.get("x-served-by"),
  requestId: res.headers.get("x-request-id"),
  vary: res.headers.get("vary"),
  type: res.headers.get("content-type"),
});

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
      const started = performance.now();
      const get = await edge(new Request(`http://x${path}`, init));
      // The 504 comes once GREETER_TIMEOUT_MS (50 ms) has passed, not before.
      if (status === 504) expect(performance.now() - started, path).toBeGreaterThanOrEqual(50 - 10);
      const head = await edge(new Request(`http://x${path}`, { ...init, method: "HEAD" }));
      expect([get.status, head.status], path).toEqual([status, status]);
      expect([...head.headers], path).toEqual([...get.headers]);
    }
  });
});

describe("answers the adapter needs made: each carries the contract's headers and honours Accept", () => {
  const env = { ROLE: "greeter", POD_NAME: "pod-9" };

  it("a malformed Host (targetError) -> 400 with the reason, in text and JSON", async () => {
    const edge = createEdge({ readEnv: () => env, fetch });
    const reason = 'malformed Host header "[::1"';
    const text = await edge(new Request("http://localhost/", { headers: { "x-request-id": "t-1" } }), { method: "GET", targetError: reason });
    expect(text.status).toBe(400);
    expect(await text.text()).toBe(reason);
    expect(contractHeaders(text)).toEqual({ servedBy: "pod-9", requestId: "t-1", vary: "Accept", type: "text/plain; charset=utf-8" });
    const json = await edge(new Request("http://localhost/", { headers: { accept: "application/json" } }), { method: "HEAD", targetError: reason });
    expect(json.status).toBe(400);
    expect(await json.json()).toEqual({ error: reason, status: 400 });
    expect(json.headers.get("x-served-by")).toBe("pod-9");
  });

  it("a misconfigured pod answers a malformed Host 400 too: the request is refused before the configuration matters", async () => {
    const edge = createEdge({ readEnv: () => ({ ROLE: "bogus" }), fetch });
    const res = await edge(new Request("http://localhost/"), { method: "GET", targetError: "malformed Host header \"x\"" });
    expect(res.status).toBe(400);
  });

  it("an internal error (an answer the host refused) -> 500, escaped, with the usual headers, in text and JSON", async () => {
    const edge = createEdge({ readEnv: () => ({ ...env, REQUEST_ID: "host-3" }), fetch });
    const error = Object.assign(new Error("[object Object]"), { payload: { tag: "invalid-syntax" } });
    const text = await edge.internalError(new Request("http://x/Po"), { method: "GET" }, error);
    expect(text.status).toBe(500);
    expect(await text.text()).toBe('internal error: "[object Object] {\\"tag\\":\\"invalid-syntax\\"}"');
    expect(contractHeaders(text)).toEqual({ servedBy: "pod-9", requestId: "host-3", vary: "Accept", type: "text/plain; charset=utf-8" });
    const json = await edge.internalError(new Request("http://x/Po", { headers: { accept: "application/json" } }), { method: "HEAD" }, new Error("a\u202eb"));
    expect(await json.json()).toEqual({ error: 'internal error: "a\\u202eb"', status: 500 });
  });

  it("a failure anywhere in the edge (the environment unreadable) is still the usual 500, never a rejection", async () => {
    const edge = createEdge({
      readEnv: () => {
        throw new Error("no environment");
      },
      fetch,
    });
    const res = await edge(new Request("http://x/Po", { headers: { "x-request-id": "e-1" } }));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('internal error: "no environment"');
    expect(contractHeaders(res)).toEqual({ servedBy: "unknown", requestId: "e-1", vary: "Accept", type: "text/plain; charset=utf-8" });
  });

  it("a POD_NAME holding a control character -> 500 naming POD_NAME, with the usual headers (X-Served-By unknown)", async () => {
    const edge = createEdge({ readEnv: () => ({ ROLE: "greeter", POD_NAME: "pod\u0001x" }), fetch });
    for (const path of ["/healthz", "/Po"]) {
      const res = await edge(new Request(`http://x${path}`, { headers: { "x-request-id": "p-1" } }));
      expect(res.status).toBe(500);
      expect(await res.text()).toBe('POD_NAME must be a pod or host name: 1 to 253 printable ASCII characters, no spaces, got "pod\\u0001x"');
      expect(contractHeaders(res)).toEqual({ servedBy: "unknown", requestId: "p-1", vary: "Accept", type: "text/plain; charset=utf-8" });
    }
  });
});
