// Which endpoint a Service sends the next request to: round-robin over the
// ready endpoints (kube-proxy in iptables mode picks at random, IPVS mode
// round-robins; round-robin makes the spread predictable for tests), with
// endpoints that just refused a connection moved to the back of the line.

export interface Endpoint {
  /** The pod behind it (POD_NAME). */
  pod: string;
  host: string;
  port: number;
}

/**
 * The order in which to try endpoints for request number `turn`: rotated by
 * `turn` for round-robin; endpoints marked failing (until a time after `now`)
 * go last, so they are still tried when nothing else is left.
 */
export function attemptOrder(
  endpoints: readonly Endpoint[],
  turn: number,
  now: number,
  failingUntil: ReadonlyMap<string, number> = new Map(),
): Endpoint[] {
  if (endpoints.length === 0) return [];
  const start = ((turn % endpoints.length) + endpoints.length) % endpoints.length;
  const rotated = [...endpoints.slice(start), ...endpoints.slice(0, start)];
  const isFailing = (endpoint: Endpoint) => (failingUntil.get(endpointKey(endpoint)) ?? 0) > now;
  return [...rotated.filter((e) => !isFailing(e)), ...rotated.filter(isFailing)];
}

export function endpointKey(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/** Connection-level failures where the request never reached the app: safe to send elsewhere. */
export function isConnectFailure(code: string | undefined): boolean {
  return code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE" || code === "EHOSTUNREACH";
}
