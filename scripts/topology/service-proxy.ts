// A Kubernetes Service in the start process: an HTTP proxy that spreads each
// request over the ready endpoints of its pods (see balancer.ts). HTTP-level
// rather than TCP-level so that every request can be logged with the pod that
// answered it, and so that a keep-alive client (the splitter) is still spread
// per request, not per connection.
import { Agent, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from "node:http";
import { attemptOrder, type Endpoint, endpointKey, isConnectFailure } from "./balancer";

export interface RequestRecord {
  /** Which door the request came through, e.g. "ClusterIP name-greeter-pod-service". */
  via: string;
  /** The pod that answered, or "-" when none did. */
  pod: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  /** Pods that refused the connection before `pod` answered. */
  skipped: string[];
}

export interface Service {
  name: string;
  /** Handles one request arriving through `via`. */
  handle(via: string, req: IncomingMessage, res: ServerResponse): void;
  /** Closes the keep-alive connections to the pods. */
  close(): void;
}

/** How long an endpoint that refused a connection is tried last. */
const FAILING_FOR_MS = 1_000;

// Hop-by-hop headers are about one connection and must not be forwarded (RFC 9110 7.6.1).
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);

export function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

export function createService(
  name: string,
  readyEndpoints: () => Endpoint[],
  onRequest: (record: RequestRecord) => void,
): Service {
  // Keep-alive to the pods: a new TCP connection per request would cost more than the proxying.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });
  const failingUntil = new Map<string, number>();
  let turn = 0;

  function handle(via: string, req: IncomingMessage, res: ServerResponse) {
    const started = performance.now();
    const path = req.url ?? "/";
    const method = req.method ?? "GET";
    // A request without a body can be sent again; one with a body was consumed by the first try.
    const replayable = req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined;
    const order = attemptOrder(readyEndpoints(), turn++, Date.now(), failingUntil);
    const skipped: string[] = [];

    let logged = false;
    const finish = (pod: string, status: number) => {
      if (logged) return;
      logged = true;
      onRequest({ via, pod, method, path, status, ms: Math.round(performance.now() - started), skipped });
    };

    const fail = (status: number, message: string) => {
      if (!res.headersSent) {
        res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
        res.end(`${name}: ${message}\n`);
      } else {
        res.destroy();
      }
      finish("-", status);
    };

    // Bounded: each endpoint is tried at most once per request.
    const tryEndpoint = (index: number) => {
      const endpoint = order[index];
      if (!endpoint) {
        fail(503, skipped.length ? `no endpoint accepted the connection (tried ${skipped.join(", ")})` : "no ready endpoints");
        return;
      }
      const upstream = request({
        host: endpoint.host,
        port: endpoint.port,
        method,
        path,
        headers: endToEndHeaders(req.headers),
        agent,
      });
      upstream.on("response", (answer) => {
        failingUntil.delete(endpointKey(endpoint));
        res.writeHead(answer.statusCode ?? 502, endToEndHeaders(answer.headers));
        answer.pipe(res);
        answer.once("end", () => finish(endpoint.pod, answer.statusCode ?? 502));
        // The pod died mid-answer: the client sees a cut connection, as it would through kube-proxy.
        answer.once("error", () => {
          res.destroy();
          finish(endpoint.pod, answer.statusCode ?? 502);
        });
      });
      upstream.on("error", (error: NodeJS.ErrnoException) => {
        if (res.headersSent || res.destroyed) {
          res.destroy();
          finish(endpoint.pod, res.headersSent ? res.statusCode : 499);
          return;
        }
        if (isConnectFailure(error.code)) {
          failingUntil.set(endpointKey(endpoint), Date.now() + FAILING_FOR_MS);
          if (replayable) {
            skipped.push(endpoint.pod);
            tryEndpoint(index + 1);
            return;
          }
        }
        fail(502, `pod ${endpoint.pod} failed: ${error.code ?? error.message}`);
      });
      // The client went away: stop the upstream request too.
      res.once("close", () => {
        if (!res.writableFinished) upstream.destroy();
      });
      if (replayable) upstream.end();
      else req.pipe(upstream);
    };

    tryEndpoint(0);
  }

  return { name, handle, close: () => agent.destroy() };
}
