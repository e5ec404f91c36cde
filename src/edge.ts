// The edge between a host and the routers: read the environment for each request,
// parse it, hand the request to the router of that configuration, and make every
// answer, the adapter's own failures included, an answer of a router: same headers,
// same JSON, whatever went wrong.
import { type ConfigResult, type EnvVars, instanceNameFrom, parseConfig } from "./config";
import { quote } from "./echo";
import type { Fetch } from "./greeter-client";
import type { RequestBindings } from "./http";
import { createRouters, type Routers } from "./router";

export interface Host {
  /** The instance's environment, read per request: hosts may set it per instance. */
  readEnv: () => EnvVars;
  fetch: Fetch;
}

/** What the adapter knows of a request beyond the Request it could build. */
export interface RequestContext {
  /** The method exactly as sent; the Request may carry another. */
  method: string;
  /** Why the target or Host could not make a URL; the Request then has a placeholder URL. */
  targetError?: string;
}

export interface Edge {
  /** The whole component as one fetch function: Request in, Response out. Never rejects. */
  (request: Request, context?: RequestContext): Promise<Response>;
  /** A 500 shaped like every other answer, for a failure outside the app (an answer the host refused). */
  internalError(request: Request, context: RequestContext | undefined, error: unknown): Promise<Response>;
}

/** `routers` are built before any request: main.ts builds them inside the build's snapshot. */
export function createEdge(host: Host, routers: Routers = createRouters()): Edge {
  const bindings = (config: ConfigResult, env: EnvVars, method: string, context?: RequestContext): RequestBindings => ({
    config,
    fetch: host.fetch,
    hostRequestId: env.REQUEST_ID,
    requestMethod: method,
    targetError: context?.targetError,
  });

  // HEAD is routed as GET, body and all: the answer keeps GET's status, headers
  // and length, and the HTTP server (hyper, node) sends no body for a HEAD.
  const asGet = (request: Request, method: string) => (method === "HEAD" ? new Request(request, { method: "GET" }) : request);

  const internalError = async (request: Request, context: RequestContext | undefined, error: unknown) => {
    let env: EnvVars = {};
    try {
      env = host.readEnv();
    } catch {
      // The failure may be the environment itself: answer as an instance with none.
    }
    const method = context?.method ?? request.method;
    const instance = instanceNameFrom(env);
    // An app that answers every request with this error: the answer is built like any other.
    const instanceName = instance.ok ? instance.name : "unknown";
    const failing: ConfigResult = { ok: false, error: `internal error: ${quote(describe(error))}`, instanceName };
    return routers.forConfig(failing).fetch(asGet(request, method), bindings(failing, env, method));
  };

  const edge = async (request: Request, context?: RequestContext) => {
    const method = context?.method ?? request.method;
    try {
      const env = host.readEnv();
      const config = parseConfig(env);
      return await routers.forConfig(config).fetch(asGet(request, method), bindings(config, env, method, context));
    } catch (error) {
      return internalError(request, context, error);
    }
  };
  return Object.assign(edge, { internalError });
}

/** An error's message; a host error (componentize-js's, `[object Object]`) says what its payload holds. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const payload = (error as { payload?: unknown }).payload;
  if (payload === undefined) return error.message;
  try {
    return `${error.message} ${JSON.stringify(payload)}`;
  } catch {
    return `${error.message} ${String(payload)}`;
  }
}
