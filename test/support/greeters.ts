// Stand-ins for the greeter service, each with one fixed behaviour, written apart
// from src/ (their greeting rule is the contract's, not a copy of greetingFor), and
// counting the requests and connections they get. Hostile ones answer as a broken
// or malicious peer would: never, endlessly, hugely, compressed, not UTF-8.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gzipSync } from "node:zlib";

export interface Recorded {
  method: string;
  /** The raw request target, exactly as it arrived. */
  url: string;
  host: string;
  requestId: string | undefined;
  accept: string | undefined;
  acceptEncoding: string | undefined;
}

export type Behaviour =
  /** `{"name","greeting","servedBy"}` as application/json, like wasm-pods' own greeter. */
  | "json"
  /** The original Rust demo's greeter: the greeting as the body, no content type, no X-Served-By. */
  | "seed-text"
  /** Accepts the request and never answers. */
  | "stall"
  /** Answers the head, then sends body bytes for ever. */
  | "endless"
  | "fail-500"
  | "html"
  | "gzip"
  | "not-utf8";

export interface TestGreeter {
  url: string;
  behaviour: Behaviour;
  requests: Recorded[];
  /** Connections open right now (the splitter must close what it gives up on). */
  openConnections(): number;
  close(): Promise<void>;
}

/** The contract's rule, written from the README: Hello for a plain S or s (not S with an accent), else Greetings. */
export function contractGreeting(name: string): string {
  return /^[Ss](?!\p{M})/u.test(name) ? `Hello ${name}!` : `Greetings ${name}!`;
}

export async function startTestGreeter(behaviour: Behaviour, servedBy = `test-greeter-${behaviour}`): Promise<TestGreeter> {
  const requests: Recorded[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      host: req.headers.host ?? "",
      requestId: req.headers["x-request-id"] as string | undefined,
      accept: req.headers.accept,
      acceptEncoding: req.headers["accept-encoding"],
    });
    const name = decodeURIComponent((req.url ?? "/").slice(1));
    switch (behaviour) {
      case "json":
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ name, greeting: contractGreeting(name), servedBy }));
        return;
      case "seed-text":
        res.writeHead(200).end(contractGreeting(name));
        return;
      case "stall":
        return;
      case "endless": {
        res.writeHead(200, { "content-type": "text/plain" });
        const chunk = Buffer.alloc(16 * 1024, "a");
        // More than any cap at once, then more for as long as the connection lasts.
        res.write(Buffer.alloc(128 * 1024, "a"));
        const timer = setInterval(() => res.write(chunk), 5);
        timers.add(timer);
        res.once("close", () => {
          clearInterval(timer);
          timers.delete(timer);
        });
        return;
      }
      case "fail-500":
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: "boom", status: 500 }));
        return;
      case "html":
        res.writeHead(200, { "content-type": "text/html" }).end("<html>a proxy's error page</html>");
        return;
      case "gzip":
        res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" }).end(gzipSync(contractGreeting(name)));
        return;
      case "not-utf8":
        res.writeHead(200, { "content-type": "text/plain" }).end(Buffer.from([0x48, 0x69, 0xff, 0xfe]));
    }
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    behaviour,
    requests,
    openConnections: () => sockets.size,
    async close() {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
