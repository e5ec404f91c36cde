// Requests the build runs through every router before componentize-js snapshots
// the heap (Wizer). Under wasmtime and the shim every request gets a fresh
// instance of that snapshot, so whatever the first request of an instance would
// pay once (Hono's RegExpRouter building its matchers on the first match,
// SpiderMonkey compiling each function on its first call) is paid here instead,
// once per build. Nothing here may read the environment, the clock or random
// numbers into the heap, or touch the network: the configurations are made up,
// the request ids are sent, and the splitter's greeter is the greeter router in
// process. StarlingMonkey refuses timers before the first request, so a split's
// deadline cannot be armed here and the split answers 500 before it calls anyone:
// its calls are warmed one by one instead (a call's own timer fails the same way,
// but the call still runs to the end against that greeter, which compiles it).
import { parseConfig } from "./config";
import { askGreeter, type Fetch } from "./greeter-client";
import type { RequestBindings } from "./http";
import type { Routers } from "./router";

/**
 * What pods are asked most: their role's routes, by curl (text) and by the splitter
 * (JSON). Each request warmed also grows the component (what it compiled and the
 * garbage it left are in the snapshot), so the rest is left cold.
 */
const ACCEPTS = ["*/*", "application/json"];

export async function warmUp(routers: Routers): Promise<void> {
  const greeterConfig = parseConfig({ ROLE: "greeter", POD_NAME: "warm-up-greeter" });
  const inProcessGreeter: Fetch = async (url, init) =>
    routers.forConfig(greeterConfig).request(url, init, { config: greeterConfig, fetch: inProcessGreeter });

  for (const name of ["Sherlock", "Po"]) {
    const call = { baseUrl: "http://greeter.warm-up:70", timeoutMs: 1_000, requestId: "warm-up", fetch: inProcessGreeter };
    await askGreeter(name, call).catch(() => undefined);
  }
  for (const { role, app } of routers.roles) {
    const config = parseConfig({ ROLE: role.name, POD_NAME: "warm-up", GREETER_URL: "http://greeter.warm-up:70" });
    const bindings: RequestBindings = { config, fetch: inProcessGreeter };
    for (const path of role.warmUpPaths) {
      for (const accept of ACCEPTS) {
        const headers = { accept, "x-request-id": "warm-up" };
        await Promise.resolve(app.request(path, { headers }, bindings)).then((res) => res.arrayBuffer(), () => undefined);
      }
    }
  }
}
