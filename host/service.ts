// A Kubernetes Service in the local twin: each request goes to the next ready
// endpoint of the Service's pods, once. Like kube-proxy it never retries: a
// request to an endpoint that just died fails as a connection failure, and while
// the Service has no ready endpoint its doors refuse connections (kube-proxy's
// REJECT rule: the client sees ECONNREFUSED), so the splitter's own retry and
// error handling are what the fault tests measure.
//
// HTTP-level rather than TCP-level, so every request is logged with the pod that
// answered it and a keep-alive client is spread per request (kube-proxy spreads
// per connection; wasmtime's outgoing handler opens one connection per request,
// so for the splitter's calls the two agree).
import { Agent, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { DEFAULT_CONNECTION_LIMITS } from "./connections";
import { forward, type ForwardResult } from "./proxy";

export interface Endpoint {
  /** The pod behind it (POD_NAME). */
  pod: string;
  host: string;
  port: number;
}

export interface RequestRecord {
  /** Which door the request came through, e.g. "ClusterIP name-greeter-pod-service". */
  via: string;
  /** The pod it was sent to, or "-" when there was no ready endpoint. */
  pod: string;
  method: string;
  path: string;
  /** The pod's status, or what happened instead: "reset" (connection failed), "504", "gone" (client left). */
  outcome: string;
  ms: number;
}

export interface Service {
  name: string;
  /** Handles one request that arrived through `via` (the NodePort or the ClusterIP). */
  handle(via: string, req: IncomingMessage, res: ServerResponse): void;
  /** Requests this Service has sent to `pod` that are not over yet (a rollout waits for 0 before stopping it). */
  inFlight(pod: string): number;
  /** Closes the keep-alive connections to the pods. */
  close(): void;
}

export interface ServiceOptions {
  name: string;
  /** The Service's ready endpoints right now (pods drop out when they die or fail readiness). */
  endpoints: () => Endpoint[];
  onRequest: (record: RequestRecord) => void;
  /** Most time a pod may take to start answering before the client gets a 504. */
  deadlineMs: number;
}

export function createService(options: ServiceOptions): Service {
  // Keep-alive to the pods: a new TCP connection per request would cost more than the proxying.
  // Idle sockets close a second before a pod's front closes them (its idleMs), so no request is
  // written into a socket the pod is closing: with no retry, that would fail a request on a healthy pod.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: DEFAULT_CONNECTION_LIMITS.idleMs - 1_000 });
  let turn = 0;
  const inFlight = new Map<string, number>();
  const count = (pod: string, delta: number) => inFlight.set(pod, (inFlight.get(pod) ?? 0) + delta);

  function handle(via: string, req: IncomingMessage, res: ServerResponse) {
    const started = performance.now();
    const record = (pod: string, outcome: string) =>
      options.onRequest({
        via,
        pod,
        method: req.method ?? "GET",
        path: req.url ?? "/",
        outcome,
        ms: Math.round(performance.now() - started),
      });

    const endpoints = options.endpoints();
    if (endpoints.length === 0) {
      // A connection opened while there was an endpoint: its door has closed since (ServiceDoor),
      // and the request fails as a connection failure, never with an answer made up here.
      res.socket?.destroy();
      record("-", "reset (no ready endpoints)");
      return;
    }
    const endpoint = endpoints[turn++ % endpoints.length]!;
    count(endpoint.pod, 1);
    void forward(req, res, {
      host: endpoint.host,
      port: endpoint.port,
      agent,
      deadlineMs: options.deadlineMs,
      label: `${options.name}: pod ${endpoint.pod}`,
      madeBy: "service",
    }).then((result) => {
      count(endpoint.pod, -1);
      record(endpoint.pod, describe(result));
    });
  }

  return { name: options.name, handle, inFlight: (pod) => inFlight.get(pod) ?? 0, close: () => agent.destroy() };
}

function describe(result: ForwardResult): string {
  switch (result.kind) {
    case "answered":
      return String(result.status);
    case "failed":
      return `reset (${result.code})`;
    case "timeout":
      return "504 (no answer in time)";
    case "client-gone":
      return "gone (client left)";
  }
}

/**
 * A Service's listening socket (a NodePort or the ClusterIP), opened and closed as
 * kube-proxy's rules change: while the Service has no ready endpoint new connections
 * are refused (ECONNREFUSED), connections already open stay. `sync` is called when
 * endpoints may have changed; the server must have been listening on `port` once.
 */
export interface ServiceDoor {
  sync(): void;
  /** Closes it for good. */
  shut(): void;
}

export function serviceDoor(
  server: Server,
  host: string,
  port: number,
  hasEndpoints: () => boolean,
  onListenError: (error: NodeJS.ErrnoException) => void,
): ServiceDoor {
  let shut = false;
  // A failed listen again (the port taken meanwhile) leaves the door closed; the next sync retries it.
  server.on("error", onListenError);
  return {
    sync() {
      if (shut) return;
      const open = hasEndpoints();
      if (open && !server.listening) server.listen(port, host);
      else if (!open && server.listening) server.close();
    },
    shut() {
      shut = true;
    },
  };
}
