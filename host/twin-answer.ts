// Answers the twin makes itself, never the component: a pod front's 408, 413 and
// 503, a Service's 504. They look like the component's own errors (the contract's
// headers, a content-length, text or JSON as the client asks) and say in one header
// which part of the twin made them, so nobody mistakes them for the app's answer.
// kube-proxy itself never answers with HTTP: on a cluster these come from nowhere
// (a Service refuses or resets the connection instead); the twin adds them so that
// nothing waits for ever.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { TEXT } from "../src/http";

/** The header naming the part of the twin that made an answer. */
export const TWIN_ANSWER_HEADER = "x-twin-answer";

export type TwinPart = "pod-front" | "service";

export interface TwinAnswerInput {
  status: number;
  /** Why, in one line, for people and logs. */
  reason: string;
  madeBy: TwinPart;
  /** The pod that made it (a pod front's answers); a Service is no instance, so it names none. */
  servedBy?: string;
  method?: string;
  /** The request's Accept header. */
  accept?: string;
  /** The request's X-Request-Id, kept when the contract allows it. */
  requestId?: string;
  /** Seconds a client should wait before trying again (503). */
  retryAfterSeconds?: number;
  /** Close the connection after the answer (the rest of the request was not read). */
  close?: boolean;
}

export interface TwinAnswer {
  status: number;
  headers: Record<string, string>;
  /** Empty for HEAD; content-length is still the GET's. */
  body: string;
}

/** The contract's rule for X-Request-Id: 1-128 of [A-Za-z0-9_.:-]. */
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** JSON when the client ranks application/json above text (the component's rule), text otherwise. */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let best: { type: string; q: number } | undefined;
  for (const range of accept.split(",")) {
    const [type = "", ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith("q="))?.slice(2) ?? "1");
    if (!Number.isFinite(q) || q <= 0) continue;
    const known = type === "application/json" || type === "text/plain" || type === "text/html" || type === "*/*" || type === "text/*";
    if (known && (!best || q > best.q)) best = { type, q };
  }
  return best?.type === "application/json";
}

/** Pure: what the twin answers, head and body. */
export function twinAnswer(input: TwinAnswerInput): TwinAnswer {
  const json = prefersJson(input.accept);
  const full = json ? JSON.stringify({ error: input.reason, status: input.status }) : `${input.reason}\n`;
  const headers: Record<string, string> = {
    "content-type": json ? "application/json" : TEXT,
    "content-length": String(Buffer.byteLength(full)),
    [TWIN_ANSWER_HEADER]: input.madeBy,
    "x-request-id": input.requestId && REQUEST_ID.test(input.requestId) ? input.requestId : randomUUID(),
    vary: "Accept",
    "cache-control": "no-store",
  };
  if (input.servedBy) headers["x-served-by"] = input.servedBy;
  if (input.retryAfterSeconds !== undefined) headers["retry-after"] = String(input.retryAfterSeconds);
  if (input.close) headers.connection = "close";
  return { status: input.status, headers, body: input.method === "HEAD" ? "" : full };
}

/** Sends a twin answer for `req` on `res` (when no head was sent yet). */
export function sendTwinAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  answer: Omit<TwinAnswerInput, "method" | "accept" | "requestId">,
): void {
  if (res.headersSent || res.destroyed) return;
  const requestId = req.headers["x-request-id"];
  const made = twinAnswer({
    ...answer,
    method: req.method,
    accept: req.headers.accept,
    requestId: typeof requestId === "string" ? requestId : undefined,
  });
  res.writeHead(made.status, made.headers).end(made.body);
}
