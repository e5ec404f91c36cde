// The routers as the edge uses them, for suites that drive one configuration with
// app.request(): the configuration and the fetch travel with each request.
import type { ConfigResult } from "../../src/config";
import type { Fetch } from "../../src/greeter-client";
import type { RequestBindings } from "../../src/http";
import { createRouters } from "../../src/router";

const routers = createRouters();

export function routerFor(config: ConfigResult, fetch: Fetch) {
  const app = routers.forConfig(config);
  return {
    request: async (path: string, init?: RequestInit, extra?: Partial<RequestBindings>) => app.request(path, init, { config, fetch, ...extra }),
  };
}
