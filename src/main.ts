// The component's entry: wires the edge app to wasi:http/incoming-handler.
//
// Top-level code runs inside Wizer at build time and is snapshotted, so only
// wiring happens here. The environment is read inside each request: reading it
// here would bake the build machine's environment into the component.
import { fire } from "@bytecodealliance/jco-std/wasi/0.2.12/http/adapters/hono/server";
import { getEnvironment } from "wasi:cli/environment@0.2.12";
import { Hono } from "hono";
import { createEdge } from "./edge";

// fire() takes a Hono app but only ever calls its fetch(). It gets ours directly:
// Hono's own fetch would turn our HEAD answers back into null bodies.
const app = new Hono();
app.fetch = createEdge({
  readEnv: () => Object.fromEntries(getEnvironment()),
  fetch: (input, init) => fetch(input, init),
});
fire(app);

// jco-std's adapter (unlike StarlingMonkey's FetchEvent) serves any number of
// requests per instance, so hosts that reuse instances work too.
export { incomingHandler } from "@bytecodealliance/jco-std/wasi/0.2.12/http/adapters/hono/server";
