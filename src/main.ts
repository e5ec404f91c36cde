// The component's entry: the edge app exported as wasi:http/incoming-handler.
//
// Top-level code runs inside Wizer at build time and is snapshotted: every
// instance starts from that heap. So the routers are built and warmed here, once
// per build (warm-up.ts), and the environment is read inside each request:
// reading it here would bake the build machine's environment into the component.
import { getEnvironment } from "wasi:cli/environment@0.2.12";
import { createEdge } from "./edge";
import { createRouters } from "./router";
import { warmUp } from "./warm-up";
import { incomingHandlerFor } from "./wasi-http";

const routers = createRouters();
// Wizer drains the promise jobs before it takes the snapshot, so the whole warm-up lands in it.
void warmUp(routers);

export const incomingHandler = incomingHandlerFor(
  createEdge(
    {
      readEnv: () => Object.fromEntries(getEnvironment()),
      fetch: (input, init) => fetch(input, init),
    },
    routers,
  ),
);
