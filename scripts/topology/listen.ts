// Binding the Service ports, with errors a person can act on: a busy NodePort
// is the most likely failure of `npm start` (a previous run still up).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A startup failure whose message is the whole story: the CLI prints it without a stack. */
export class StartError extends Error {
  override name = "StartError";
}

export function listenFailureMessage(code: string | undefined, host: string, port: number, what: string): string {
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch (code) {
    case "EADDRINUSE":
      return `port ${port} is already in use on ${host} (${what}); stop whatever holds it or pick another port`;
    case "EACCES":
      return `not allowed to listen on ${where} (${what}); pick a port above 1023`;
    case "EADDRNOTAVAIL":
      return `address ${host} is not on this machine (${what} on port ${port})`;
    default:
      return `cannot listen on ${where} (${what}): ${code ?? "unknown error"}`;
  }
}

export interface Listener {
  server: Server;
  host: string;
  /** The bound port (the kernel's choice when 0 was asked for). */
  port: number;
  url: string;
  close(): Promise<void>;
}

export function listen(
  host: string,
  port: number,
  what: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Listener> {
  const server = createServer({ keepAliveTimeout: 5_000 }, handler);
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new StartError(listenFailureMessage(error.code, host, port, what))),
    );
    server.listen(port, host, () => {
      const bound = (server.address() as AddressInfo).port;
      const close = () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
      const urlHost = host.includes(":") ? `[${host}]` : host;
      resolve({ server, host, port: bound, url: `http://${urlHost}:${bound}`, close });
    });
  });
}
