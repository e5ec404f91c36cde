// Builds the HTTP apps: one per role (src/roles/), and one for an instance whose
// configuration is invalid, which answers every request with that error. They are
// built once, before any request (main.ts builds them at top level, inside the
// build's snapshot), so nothing here may read the environment: the configuration
// and the host's fetch arrive with each request (RequestBindings, http.ts).
import { Hono } from "hono";
import type { ConfigResult } from "./config";
import { quote } from "./echo";
import { type AppEnv, fail, preferred, rawPath, reply, requestIdFor, TEXT } from "./http";
import { pageResponse, pageRoutes } from "./page";
import { ROLES } from "./roles";
import type { RoleDefinition } from "./roles/role";

const ALLOWED_METHODS = "GET, HEAD";

/** The app of one role; without a role, the app of an instance that has no valid configuration. */
export function createRouter(role?: RoleDefinition): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    c.set("requestId", requestIdFor(c.req.header("x-request-id"), c.env.hostRequestId));
    await next();
    c.header("X-Served-By", instanceNameOf(c.env.config));
    c.header("X-Request-Id", c.get("requestId"));
    // Text, JSON or the page: the answer depends on Accept, and caches must know it.
    c.header("Vary", "Accept");
  });

  app.onError((error, c) => fail(c, 500, `internal error: ${quote(error.message)}`));
  app.notFound((c) => fail(c, 404, `no route for ${quote(rawPath(c.req.url))}; GET / lists the routes`));

  // A request the adapter could not turn into a URL (a malformed Host) is answered here,
  // so its 400 has the headers and the JSON of every other answer.
  app.use(async (c, next) => (c.env.targetError ? fail(c, 400, c.env.targetError) : next()));

  app.use(async (c, next) => {
    const parsed = c.env.config;
    if (!parsed.ok) return fail(c, 500, parsed.error);
    c.set("config", parsed.config);
    return next();
  });
  if (!role) return app;

  app.use(async (c, next) => {
    // Methods are case-sensitive: `get` is not GET.
    const method = c.env.requestMethod ?? c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    c.header("Allow", ALLOWED_METHODS);
    return fail(c, 405, `method ${method} is not allowed; use ${ALLOWED_METHODS}`);
  });

  // Probes never call downstream: a slow greeter must not take the splitter out of rotation.
  app.get("/healthz", (c) => c.body("ok", 200, { "content-type": TEXT }));
  app.get("/readyz", (c) => c.body("ok", 200, { "content-type": TEXT }));

  app.route("/", pageRoutes());
  app.get("/", (c) => {
    // What a browser asks for gets the page; curl and programs get the usage.
    if (preferred(c) === "text/html") return pageResponse(c);
    const { instanceName } = c.var.config;
    const lines = [
      `wasm-pods ${role.name} (${instanceName})`,
      "",
      ...role.usage,
      "GET /healthz, GET /readyz  ->  ok",
      "GET / from a browser  ->  a page to try it",
    ];
    return reply(c, 200, lines.join("\n"), { role: role.name, servedBy: instanceName, routes: role.usage, page: role.page });
  });

  app.route("/", role.routes());
  return app;
}

export interface Routers {
  /** The app that answers for this configuration: its role's, or the one that reports the error. */
  forConfig(parsed: ConfigResult): Hono<AppEnv>;
  /** Each role's app (warm-up.ts runs requests through each). */
  roles: readonly { role: RoleDefinition; app: Hono<AppEnv> }[];
}

export function createRouters(roles: readonly RoleDefinition[] = ROLES): Routers {
  const byRole = new Map(roles.map((role) => [role.name, createRouter(role)]));
  const unconfigured = createRouter();
  return {
    forConfig: (parsed) => (parsed.ok && byRole.get(parsed.config.role)) || unconfigured,
    roles: roles.map((role) => ({ role, app: byRole.get(role.name)! })),
  };
}

function instanceNameOf(parsed: ConfigResult): string {
  return parsed.ok ? parsed.config.instanceName : parsed.instanceName;
}
