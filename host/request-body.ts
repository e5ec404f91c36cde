// A pod front reads a request's body in full before a slot sees the request, so
// a slot only ever gets a request that is ready to run: a client that sends its
// body slowly (or never) holds a connection of the front, never a guest. The rules
// are pure (bodyVerdict); readBody applies them to a live request.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

export interface BodyLimits {
  /** Most bytes a request body may have (no route of the component takes one; this only bounds memory). */
  maxBytes: number;
  /** Most time from the request's head to the end of its body. */
  deadlineMs: number;
}

/**
 * Defaults: no route reads a body, so a small cap costs nothing; the deadline is
 * below the Service's wait for an answer head, so a slow client through a Service
 * gets the pod front's 408 rather than the Service's 504.
 */
export const DEFAULT_BODY_LIMITS: BodyLimits = { maxBytes: 64 * 1024, deadlineMs: 5_000 };

export type BodyRefusal = { status: 408 | 413; reason: string };

/** Methods whose body has no meaning (RFC 9110 9.3.1, 9.3.2): the twin takes none, and does not read one. */
const NO_BODY_METHODS = new Set(["GET", "HEAD"]);

/**
 * Pure: can the request's head already be refused, before any byte of its body is read?
 * A GET or HEAD that says it has a body, or a body declared above the cap, is refused at once.
 */
export function bodyVerdict(method: string | undefined, headers: IncomingHttpHeaders, limits: BodyLimits): BodyRefusal | undefined {
  const length = headers["content-length"] === undefined ? undefined : Number(headers["content-length"]);
  const chunked = headers["transfer-encoding"] !== undefined;
  const hasBody = chunked || (length !== undefined && length > 0);
  if (hasBody && NO_BODY_METHODS.has(method ?? "")) {
    return { status: 413, reason: `pod: a ${method} request may not carry a body here; send it without one` };
  }
  if (length !== undefined && length > limits.maxBytes) {
    return { status: 413, reason: `pod: the request body of ${length} bytes is above this pod's limit of ${limits.maxBytes} bytes` };
  }
  return undefined;
}

/** The body, or why there is none: a refusal's status (0: the client is gone, nobody to answer) and its reason. */
export type BodyResult = { ok: true; body: Buffer } | { ok: false; status: BodyRefusal["status"] | 0; error: string };

/** Reads `req`'s body whole, within the limits; a refusal leaves the rest unread (answer with Connection: close). */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: BodyResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off("data", onData);
      if (!result.ok) req.pause();
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        settle({
          ok: false,
          status: 408,
          error: `pod: the request body did not arrive within ${limits.deadlineMs} ms (${size} bytes came); send it at once`,
        }),
      limits.deadlineMs,
    );
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) {
        settle({ ok: false, status: 413, error: `pod: the request body is above this pod's limit of ${limits.maxBytes} bytes` });
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => settle({ ok: true, body: Buffer.concat(chunks) }));
    req.once("error", () => settle({ ok: false, status: 0, error: "client gone" }));
    req.once("close", () => {
      if (!req.complete) settle({ ok: false, status: 0, error: "client gone" });
    });
  });
}
