// A local stand-in for the greeter service: answers like the real greeter (or
// stalls, or fails) and records every request it receives.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { greetingFor } from "../../src/names";

export interface Recorded {
  method: string;
  /** The raw request target, exactly as it arrived on the wire. */
  url: string;
  host: string;
  requestId: string | undefined;
  accept: string | undefined;
}

export type Behaviour = "greet" | "stall" | "fail-500" | "not-json";

export interface StubGreeter {
  url: string;
  port: number;
  requests: Recorded[];
  behaviour: Behaviour;
  close(): Promise<void>;
}

export async function startStubGreeter(behaviour: Behaviour = "greet", servedBy = "stub-greeter"): Promise<StubGreeter> {
  const stalled = new Set<ServerResponse>();
  const stub = { requests: [] as Recorded[], behaviour } as StubGreeter;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    stub.requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      host: req.headers.host ?? "",
      requestId: req.headers["x-request-id"] as string | undefined,
      accept: req.headers.accept,
    });
    switch (stub.behaviour) {
      case "stall":
        stalled.add(res);
        return;
      case "fail-500":
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: "boom", status: 500 }));
        return;
      case "not-json":
        res.writeHead(200, { "content-type": "text/html" }).end("<html>a proxy page</html>");
        return;
      case "greet": {
        const name = decodeURIComponent((req.url ?? "/").slice(1));
        const body = JSON.stringify({ name, greeting: greetingFor(name), servedBy });
        res.writeHead(200, { "content-type": "application/json" }).end(body);
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  stub.port = port;
  stub.url = `http://127.0.0.1:${port}`;
  stub.close = async () => {
    for (const res of stalled) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return stub;
}
