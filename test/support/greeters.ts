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
  | "not-utf8"
  /** Redirects every call (to `options.location`): the splitter must not follow. */
  | "redirect-301"
  | "redirect-302"
  | "redirect-307"
  /** A 500 whose text reorders, hides and steers: RLO, LRI, zero-width, ANSI, a 10 KB line. */
  | "hostile-error"
  /**
   * A good greeting with an X-Served-By of 10 KB: a peer's header must be bounded like its body.
   * (Under the 16 KiB a Node client accepts, so both engines read it and it is the splitter that must bound it.)
   */
  | "huge-served-by"
  /** A JSON greeting padded to exactly 64 KiB, the most the splitter reads, and one byte more. */
  | "json-64k"
  | "json-64k-plus-1";

/** The hostile-error greeter's body. */
export const HOSTILE_ERROR_TEXT = `\u202eevil\u2066x\u2069 \u200b\u200d\ufeff \u001b[2J\u001b[H\u001b]0;pwned\u0007 \u009b31m\u061c${"x".repeat(10_000)}`;

/** The size of a greeter answer the splitter must still read (README: "at most 64 KiB"). */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** `{"name","greeting","servedBy","pad"}`, padded to exactly `bytes` bytes. */
export function paddedGreeting(name: string, servedBy: string, bytes: number): string {
  const start = JSON.stringify({ name, greeting: contractGreeting(name), servedBy }).slice(0, -1) + ',"pad":"';
  return `${start}${"x".repeat(bytes - Buffer.byteLength(start) - 2)}"}`;
}

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

export async function startTestGreeter(
  behaviour: Behaviour,
  servedBy = `test-greeter-${behaviour}`,
  options: { location?: string } = {},
): Promise<TestGreeter> {
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
        return;
      case "redirect-301":
      case "redirect-302":
      case "redirect-307":
        res.writeHead(Number(behaviour.slice(-3)), { location: `${options.location ?? "http://127.0.0.1:9"}${req.url ?? "/"}`, "content-type": "text/plain" }).end("moved");
        return;
      case "hostile-error":
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(HOSTILE_ERROR_TEXT);
        return;
      case "huge-served-by":
        res.writeHead(200, { "content-type": "text/plain", "x-served-by": "a".repeat(10_000) }).end(contractGreeting(name));
        return;
      case "json-64k":
      case "json-64k-plus-1":
        res.writeHead(200, { "content-type": "application/json" });
        res.end(paddedGreeting(name, servedBy, MAX_ANSWER_BYTES + (behaviour === "json-64k" ? 0 : 1)));
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
