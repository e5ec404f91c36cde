// Builds the HTTP app for one parsed configuration: the routes both roles share,
// plus the role's own sub-app. A configuration error becomes an app that
// answers every request with that error.
import { Hono } from "hono";
import type { ConfigResult } from "./config";
import type { Fetch } from "./greeter-client";
import { type AppEnv, fail, preferred, rawPath, reply, requestIdFor } from "./http";
import { pageResponse, pageRoutes } from "./page";
import { quote } from "./echo";
import { greeterRoutes, greeterUsage } from "./roles/greeter";
import { splitterRoutes, splitterUsage } from "./roles/splitter";

export interface RouterDeps {
  /** How the splitter reaches the greeter service (injected so tests can stub it). */
  fetch: Fetch;
}

const ALLOWED_METHODS = "GET, HEAD";

export function createRouter(parsed: ConfigResult, deps: RouterDeps) {
  const app = new Hono<AppEnv>();
  const instanceName = parsed.ok ? parsed.config.instanceName : parsed.instanceName;

  app.use(async (c, next) => {
    c.set("requestId", requestIdFor(c.req.header("x-request-id"), c.env?.hostRequestId));
    await next();
    c.header("X-Served-By", instanceName);
    c.header("X-Request-Id", c.get("requestId"));
    // Text, JSON or the page: the answer depends on Accept, and caches must know it.
    c.header("Vary", "Accept");
  });

  app.onError((error, c) => fail(c, 500, `internal error: ${quote(error.message)}`));
  app.notFound((c) => fail(c, 404, `no route for ${quote(rawPath(c.req.url))}; GET / lists the routes`));

  // A request the adapter could not turn into a URL (a malformed Host) is answered here,
  // so its 400 has the headers and the JSON of every other answer.
  app.use(async (c, next) => (c.env?.targetError ? fail(c, 400, c.env.targetError) : next()));

  if (!parsed.ok) {
    app.all("*", (c) => fail(c, 500, parsed.error));
    return app;
  }
  const { config } = parsed;

  app.use(async (c, next) => {
    // Methods are case-sensitive: `get` is not GET.
    const method = c.env?.requestMethod ?? c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    c.header("Allow", ALLOWED_METHODS);
    return fail(c, 405, `method ${method} is not allowed; use ${ALLOWED_METHODS}`);
  });

  // Probes never call downstream: a slow greeter must not take the splitter out of rotation.
  app.get("/healthz", (c) => c.body("ok", 200, { "content-type": "text/plain; charset=utf-8" }));
  app.get("/readyz", (c) => c.body("ok", 200, { "content-type": "text/plain; charset=utf-8" }));

  const routes = config.role === "greeter" ? greeterUsage : splitterUsage;
  app.route("/", pageRoutes());
  app.get("/", (c) => {
    // What a browser asks for gets the page; curl and programs get the usage.
    if (preferred(c) === "text/html") return pageResponse(c);
    const lines = [
      `wasm-pods ${config.role} (${config.instanceName})`,
      "",
      ...routes,
      "GET /healthz, GET /readyz  ->  ok",
      "GET / from a browser  ->  a page to try it",
    ];
    return reply(c, 200, lines.join("\n"), { role: config.role, servedBy: config.instanceName, routes });
  });

  if (config.role === "greeter") app.route("/", greeterRoutes(config));
  else app.route("/", splitterRoutes(config, deps.fetch));
  return app;
}
