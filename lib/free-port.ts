// For servers that must be told a port and cannot pick one and say which (jco
// serve, the benchmark's native baseline). Another process may take it before
// the server binds it: callers that can, retry.
import { createServer } from "node:net";

/** A port the kernel just handed out on 127.0.0.1, free when asked. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
