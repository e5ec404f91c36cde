// The edge between a host and the router: read the environment for each request,
// reuse the router while the environment stays the same, and make every answer
// something the wasi:http adapter can write.
import { type EnvVars, parseConfig } from "./config";
import type { Fetch } from "./greeter-client";
import { createRouter } from "./router";

export interface Host {
  /** The instance's environment, read per request: hosts may set it per instance. */
  readEnv: () => EnvVars;
  fetch: Fetch;
}

/** The variables that shape the router; REQUEST_ID changes per request and is passed separately. */
const CONFIG_VARS = ["ROLE", "GREETER_URL", "GREETER_TIMEOUT_MS", "MAX_NAMES", "POD_NAME", "HOSTNAME"];

/** The whole component as one fetch function: Request in, Response out. */
export function createEdge(host: Host): (request: Request, context?: { method: string }) => Promise<Response> {
  let cached: { key: string; router: ReturnType<typeof createRouter> } | undefined;

  const routerFor = (env: EnvVars) => {
    const key = JSON.stringify(CONFIG_VARS.map((name) => env[name]));
    if (cached?.key !== key) cached = { key, router: createRouter(parseConfig(env), { fetch: host.fetch }) };
    return cached.router;
  };

  return async (request, context) => {
    const env = host.readEnv();
    const method = context?.method ?? request.method;
    // HEAD is routed as GET, body and all: the answer keeps GET's status, headers
    // and length, and the HTTP server (hyper, node) sends no body for a HEAD.
    const routed = method === "HEAD" ? new Request(request, { method: "GET" }) : request;
    return routerFor(env).fetch(routed, { hostRequestId: env.REQUEST_ID, requestMethod: method });
  };
}
