// The one HTTP forwarding step of the local twin: a Service sends a request to
// a pod with it, and a pod's front sends it to one of its slots. One request
// out per request in, never a retry (kube-proxy never resends either), and a
// deadline on the answer so no client waits for ever on a stuck pod.
import { type Agent, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from "node:http";
import { sendTwinAnswer, type TwinPart } from "./twin-answer";

/** What happened to one forwarded request, for the request log. */
export type ForwardResult =
  | { kind: "answered"; status: number }
  /** The target could not be reached, or cut the exchange before answering: the client's connection is cut too. */
  | { kind: "failed"; code: string }
  /** No answer head within the deadline: the client got a 504 saying so. */
  | { kind: "timeout" }
  /** The client left first. */
  | { kind: "client-gone" };

export interface ForwardTarget {
  host: string;
  port: number;
  agent: Agent;
  /** Most time to wait for the answer's head, and then between two pieces of its body. */
  deadlineMs: number;
  /** Who is waited for, for the 504's reason, e.g. "pod name-greeter-pod-1". */
  label: string;
  /** Which part of the twin forwards (its 504 says so), and the pod it is, if any. */
  madeBy: TwinPart;
  servedBy?: string;
}

// Hop-by-hop headers describe one connection and are never forwarded (RFC 9110 7.6.1).
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  // The Connection header may name more per-connection headers.
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase()),
  );
  return Object.fromEntries(
    Object.entries(headers).filter(([name, value]) => value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)),
  );
}

/**
 * Forwards `req` to `target` and streams the answer back; resolves once the exchange is over.
 * `body`, when given, is the request's body already read in full (a pod front reads it
 * before it takes a slot): it is sent with its length instead of streaming from the client.
 */
export function forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget, body?: Buffer): Promise<ForwardResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ForwardResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };

    const headers = endToEndHeaders(req.headers);
    if (body) {
      delete headers["content-length"];
      if (body.length > 0) headers["content-length"] = String(body.length);
    }
    const upstream = request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      agent: target.agent,
    });

    const timer = setTimeout(() => {
      upstream.destroy();
      if (!res.headersSent) {
        const reason = `${target.label} sent no answer within ${target.deadlineMs} ms`;
        // The request may still be arriving: the connection cannot carry another one.
        sendTwinAnswer(req, res, { status: 504, reason, madeBy: target.madeBy, servedBy: target.servedBy, close: true });
      } else {
        res.destroy();
      }
      settle({ kind: "timeout" });
    }, target.deadlineMs);

    upstream.once("response", (answer) => {
      clearTimeout(timer);
      if (res.destroyed) {
        answer.destroy();
        settle({ kind: "client-gone" });
        return;
      }
      const headers = endToEndHeaders(answer.headers);
      // Answered before the client finished sending (a pod front's 408 or 413): the rest of
      // its body would only be read to be thrown away, so the connection ends with the answer.
      if (!body && !req.complete) headers.connection = "close";
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
      answer.pipe(res);
      const status = answer.statusCode ?? 502;
      // A body that stops arriving is cut, as a head that never comes gets a 504: nothing waits for ever.
      answer.setTimeout(target.deadlineMs, () => {
        answer.destroy();
        res.destroy();
        settle({ kind: "timeout" });
      });
      answer.once("end", () => settle({ kind: "answered", status }));
      // Cut mid-answer: the client sees a cut connection, as it would through kube-proxy.
      answer.once("error", () => {
        res.destroy();
        settle({ kind: "answered", status });
      });
      answer.once("close", () => {
        if (!answer.complete) res.destroy();
        settle({ kind: "answered", status });
      });
    });

    upstream.once("error", (error: NodeJS.ErrnoException) => {
      // The deadline already answered (its destroy() is what errored here): leave that 504 alone.
      if (settled) return;
      // Like a connection through kube-proxy to a dead endpoint: the client's connection
      // fails too (refused or reset), with no made-up HTTP answer in between.
      if (!res.headersSent) res.socket?.destroy();
      else res.destroy();
      settle({ kind: "failed", code: error.code ?? error.message });
    });

    res.once("close", () => {
      if (res.writableFinished) return;
      upstream.destroy();
      settle({ kind: "client-gone" });
    });
    if (body) {
      upstream.end(body);
      return;
    }
    req.once("error", () => upstream.destroy());
    req.pipe(upstream);
  });
}
