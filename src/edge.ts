// The edge between a host and the router: read the environment for each request,
// reuse the router while the environment stays the same, and make every answer,
// the adapter's own failures included, an answer of the router: same headers,
// same JSON, whatever went wrong.
import { type EnvVars, instanceNameFrom, parseConfig } from "./config";
import { quote } from "./echo";
import type { Fetch } from "./greeter-client";
import { createRouter } from "./router";

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

/** The variables that shape the router; REQUEST_ID changes per request and is passed separately. */
const CONFIG_VARS = ["ROLE", "GREETER_URL", "GREETER_TIMEOUT_MS", "MAX_NAMES", "POD_NAME", "HOSTNAME"];

export function createEdge(host: Host): Edge {
  let cached: { key: string; router: ReturnType<typeof createRouter> } | undefined;

  const routerFor = (env: EnvVars) => {
    const key = JSON.stringify(CONFIG_VARS.map((name) => env[name]));
    if (cached?.key !== key) cached = { key, router: createRouter(parseConfig(env), { fetch: host.fetch }) };
    return cached.router;
  };

  const bindings = (env: EnvVars, method: string, context?: RequestContext) => ({
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
    const failing = createRouter({ ok: false, error: `internal error: ${quote(describe(error))}`, instanceName }, { fetch: host.fetch });
    return failing.fetch(asGet(request, method), bindings(env, method));
  };

  const edge = async (request: Request, context?: RequestContext) => {
    const method = context?.method ?? request.method;
    try {
      const env = host.readEnv();
      return await routerFor(env).fetch(asGet(request, method), bindings(env, method, context));
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
