// The component's entry: the edge app exported as wasi:http/incoming-handler.
//
// Top-level code runs inside Wizer at build time and is snapshotted, so only
// wiring happens here. The environment is read inside each request: reading it
// here would bake the build machine's environment into the component.
import { getEnvironment } from "wasi:cli/environment@0.2.12";
import { createEdge } from "./edge";
import { incomingHandlerFor } from "./wasi-http";

export const incomingHandler = incomingHandlerFor(
  createEdge({
    readEnv: () => Object.fromEntries(getEnvironment()),
    fetch: (input, init) => fetch(input, init),
  }),
);
