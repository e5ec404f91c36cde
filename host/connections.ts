// The twin's listening sockets (NodePorts, the ClusterIP, a pod's front) and the
// limits a real ingress puts on a client's connection, so that no client can make
// the twin buffer or wait without bound:
//   - a request head must arrive within `headersMs`;
//   - a connection with no request in flight is closed after `idleMs`;
//   - a connection whose answer the client does not read is closed after `stallMs`
//     without progress;
//   - pipelined requests are served one at a time, in order; while `maxWaiting`
//     of them wait, the twin stops reading the connection, and one that has more
//     than `cutAfter` waiting anyway (they came in one read) is closed.
// Waiting for a pod's answer is not a stall: the forwarding step has its own deadline.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { twinAnswer, type TwinPart } from "./twin-answer";

export interface ConnectionLimits {
  headersMs: number;
  idleMs: number;
  stallMs: number;
  maxWaiting: number;
  cutAfter: number;
}

/**
 * Idle connections close after as long as Node's own keep-alive default (which the slots'
 * servers keep; the Services' agents derive theirs from idleMs and close a second sooner);
 * a stall gets as long as a pod gets to start its answer; a few pipelined requests are a
 * client's right, hundreds unread are not.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { headersMs: 10_000, idleMs: 5_000, stallMs: 10_000, maxWaiting: 16, cutAfter: 256 };

/** What a connection is doing when it has been silent for a while. */
export interface ConnectionState {
  /** A request of it is being handled. */
  inFlight: boolean;
  /** The answer's head was sent. */
  answering: boolean;
  /** Bytes of the answer the client has not taken yet (in the socket's buffer). */
  unsent: number;
}

/**
 * Pure: whether a silent connection is closed. Idle (nothing in flight), or an answer the
 * client does not read, are closed; a request whose answer has not started, or whose pod is
 * slow between two pieces, waits for the forwarding step's own deadline.
 */
export function closeWhenSilent(state: ConnectionState): boolean {
  if (!state.inFlight) return true;
  return state.answering && state.unsent > 0;
}

interface Line {
  current: ServerResponse | undefined;
  waiting: [IncomingMessage, ServerResponse][];
}

/** Serves `handler` on a server that applies `limits` to every connection; `madeBy` signs its own answers. */
export function guardedServer(handler: RequestListener, madeBy: TwinPart, limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS): Server {
  const lines = new WeakMap<Socket, Line>();

  const start = (socket: Socket, line: Line, req: IncomingMessage, res: ServerResponse) => {
    line.current = res;
    res.once("close", () => {
      line.current = undefined;
      const next = line.waiting.shift();
      if (line.waiting.length < limits.maxWaiting && !socket.destroyed) socket.resume();
      if (next) start(socket, line, ...next);
    });
    handler(req, res);
  };

  const inOrder: RequestListener = (req, res) => {
    const socket = req.socket;
    if (socket.destroyed) return;
    let line = lines.get(socket);
    if (!line) {
      line = { current: undefined, waiting: [] };
      lines.set(socket, line);
    }
    if (!line.current) {
      start(socket, line, req, res);
      return;
    }
    if (line.waiting.length >= limits.cutAfter) {
      socket.destroy();
      return;
    }
    line.waiting.push([req, res]);
    // Stop reading more of this client until it takes its answers.
    if (line.waiting.length >= limits.maxWaiting) socket.pause();
  };

  const server = createServer(
    {
      keepAliveTimeout: limits.idleMs,
      headersTimeout: limits.headersMs,
      // Bodies have their own deadline where they matter (a pod's front); a Service streams them.
      requestTimeout: 0,
      // How often Node checks headersTimeout: well under it, so it holds to the second.
      connectionsCheckingInterval: Math.min(1_000, limits.headersMs),
    },
    inOrder,
  );
  // Any silence longer than this is looked at; closeWhenSilent decides.
  server.timeout = limits.stallMs;
  server.on("timeout", (socket: Socket) => {
    const line = lines.get(socket);
    const res = line?.current;
    const state: ConnectionState = { inFlight: res !== undefined, answering: res?.headersSent ?? false, unsent: socket.writableLength };
    if (closeWhenSilent(state)) socket.destroy();
  });
  // Node's own refusals (a malformed head, one too large, too slow) as the twin's answers.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const status = error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const reason =
      status === 408
        ? `the request head did not arrive within ${limits.headersMs} ms`
        : status === 431
          ? "the request head is too large"
          : `the request is not valid HTTP/1.1 (${error.code ?? "parse error"})`;
    const made = twinAnswer({ status, reason: `${madeBy}: ${reason}`, madeBy, close: true });
    const head = Object.entries(made.headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n${head.join("")}\r\n${made.body}`);
  });
  return server;
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large" };
