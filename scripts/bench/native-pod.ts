// The benchmark's native baseline: the very same app (src/edge.ts) on Node's own
// HTTP server through @hono/node-server, instead of compiled to a component.
//   PORT=8081 ROLE=greeter node dist/bench/native-pod.mjs
import { serve } from "@hono/node-server";
import { createEdge } from "../../src/edge";

const port = Number(process.env.PORT ?? 8080);
const edge = createEdge({ readEnv: () => process.env, fetch: (input, init) => fetch(input, init) });
const server = serve({ fetch: (request) => edge(request), port, hostname: "127.0.0.1" });
process.once("SIGTERM", () => server.close(() => process.exit(0)));
