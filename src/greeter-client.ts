// The splitter's side of the greeter service: one call per name, each under a
// deadline, with a single retry when the connection itself failed. It speaks
// both greeter protocols: JSON ({"greeting", "servedBy"}) when the greeter
// offers it, else the seed's plain text (the body is the greeting).
//
// A greeter is a peer, not a part of us: whatever of its answer reaches ours
// (its error text, a header value, its pod name) is bounded and escaped first.
import { isEscapedInEchoes, safeText } from "./echo";
import { isInstanceName } from "./instance-name";

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface GreeterCall {
  baseUrl: string;
  timeoutMs: number;
  requestId: string;
  fetch: Fetch;
  /** The caller's deadline, when it has one of its own (a split's, from its start): its abort is a timeout. */
  signal?: AbortSignal;
}

export interface Part {
  name: string;
  greeting: string;
  servedBy: string;
  ms: number;
}

export type Failure = { name: string; kind: "timeout" | "unreachable" | "bad-answer"; reason: string };

export type Outcome = { ok: true; part: Part } | { ok: false; error: Failure };

/** A greeting is a line of text: a greeter answering more than this is broken or hostile. */
export const MAX_ANSWER_BYTES = 64 * 1024;
const MAX_GREETING_CHARS = 256;
/** A media type with its parameters is far shorter; a longer Content-Type is not one we read. */
const MAX_CONTENT_TYPE_LENGTH = 256;

const REQUEST_HEADERS = {
  accept: "application/json, text/plain;q=0.9",
  // The splitter reads answers itself and cannot inflate them.
  "accept-encoding": "identity",
};

/** The path is exactly one encoded segment: no name can reach another host or path. */
export function greeterUrlFor(baseUrl: string, name: string): string {
  return `${baseUrl}/${encodeURIComponent(name)}`;
}

export async function askGreeter(name: string, call: GreeterCall): Promise<Outcome> {
  const started = Date.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expire = () => {};
  // The race keeps the deadline even if a host is slow to act on the abort. The caller's
  // signal is its deadline too (a split's, shared by its calls): what was cut is a timeout.
  const deadline = new Promise<"timeout">((resolve) => {
    expire = () => {
      controller.abort();
      resolve("timeout");
    };
    call.signal?.addEventListener("abort", expire, { once: true });
    timer = setTimeout(expire, call.timeoutMs);
  });
  try {
    const work = attempt(name, call, controller.signal).catch((error: unknown): Failure | "timeout" =>
      controller.signal.aborted
        ? "timeout"
        : failure(name, "unreachable", `the connection to the greeter failed (${describe(error)})`),
    );
    const result = await Promise.race([work, deadline]);
    if (result === "timeout") {
      return { ok: false, error: failure(name, "timeout", `the greeter did not answer within ${call.timeoutMs} ms`) };
    }
    if ("reason" in result) return { ok: false, error: result };
    return { ok: true, part: { ...result, ms: Date.now() - started } };
  } finally {
    clearTimeout(timer);
    call.signal?.removeEventListener("abort", expire);
    // Whatever is still in flight (a stalled or endless answer) is cancelled, not left to buffer.
    controller.abort();
  }
}

async function attempt(name: string, call: GreeterCall, signal: AbortSignal): Promise<Omit<Part, "ms"> | Failure> {
  const url = greeterUrlFor(call.baseUrl, name);
  // No redirects: a greeter must not move the call off GREETER_URL (a 3xx is a bad answer).
  const init: RequestInit = { headers: { ...REQUEST_HEADERS, "x-request-id": call.requestId }, signal, redirect: "manual" };
  let response: Response;
  try {
    response = await call.fetch(url, init);
  } catch (first) {
    if (signal.aborted) throw first;
    // Connection-level failure (refused, reset): a ClusterIP may still route to a
    // pod that just died, so one more try usually lands on a live replica.
    try {
      response = await call.fetch(url, init);
    } catch (second) {
      if (signal.aborted) throw second;
      return failure(name, "unreachable", `the greeter at ${safeText(call.baseUrl)} is unreachable (${describe(second)})`);
    }
  }

  const encoding = response.headers.get("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    void response.body?.cancel().catch(() => {});
    return failure(name, "bad-answer", `the greeter answered with Content-Encoding ${safeText(encoding)}, though asked for identity`);
  }
  const read = await readCapped(response, MAX_ANSWER_BYTES, signal);
  if (read === "too-large") {
    return failure(name, "bad-answer", `the greeter's answer is larger than ${MAX_ANSWER_BYTES} bytes`);
  }
  let body: string;
  try {
    body = new TextDecoder("utf-8", { fatal: true }).decode(read);
  } catch {
    return failure(name, "bad-answer", "the greeter's answer is not valid UTF-8");
  }
  if (!response.ok) {
    return failure(name, "bad-answer", `the greeter answered ${response.status}: ${errorText(body)}`);
  }
  const answer = parseAnswer(body, response.headers);
  if (!answer) return failure(name, "bad-answer", `the greeter's answer is not a greeting: ${bodyText(body)}`);
  return { name, greeting: answer.greeting, servedBy: answer.servedBy };
}

/** The body, up to `limit` bytes; a larger one is cancelled and reported, never buffered whole. */
async function readCapped(response: Response, limit: number, signal: AbortSignal): Promise<Uint8Array | "too-large"> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const cancel = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        cancel();
        return "too-large";
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return bytes;
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

/**
 * JSON when the greeter says so; otherwise the seed's protocol: the body is the
 * greeting (one line of text) and X-Served-By, if sent, names the pod.
 */
export function parseAnswer(body: string, headers: Headers): { greeting: string; servedBy: string } | undefined {
  const servedByHeader = servedByFrom(headers.get("x-served-by"));
  const contentType = headers.get("content-type") ?? "";
  if (contentType.length > MAX_CONTENT_TYPE_LENGTH) return undefined;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json" || type.endsWith("+json")) {
    try {
      const value: unknown = JSON.parse(body);
      if (typeof value !== "object" || value === null) return undefined;
      const { greeting, servedBy } = value as Record<string, unknown>;
      if (typeof greeting !== "string" || !isGreetingText(greeting)) return undefined;
      return { greeting, servedBy: typeof servedBy === "string" && servedBy ? servedByFrom(servedBy) : servedByHeader };
    } catch {
      return undefined;
    }
  }
  if (type !== "" && type !== "text/plain") return undefined;
  const greeting = body.trim();
  return isGreetingText(greeting) ? { greeting, servedBy: servedByHeader } : undefined;
}

/**
 * The greeter's pod name as we repeat it: a pod or host name, else "unknown". A
 * peer's header is bounded like its body: it is copied into every part of our answer.
 */
export function servedByFrom(value: unknown): string {
  if (typeof value !== "string") return "unknown";
  const trimmed = value.trim();
  return isInstanceName(trimmed) ? trimmed : "unknown";
}

/**
 * One non-empty line of visible text, of a sane length: nothing the echo rule would
 * escape (controls, bidi, zero-width, line separators), since no valid name holds any.
 */
function isGreetingText(text: string): boolean {
  const chars = [...text];
  return chars.length > 0 && chars.length <= MAX_GREETING_CHARS && !chars.some((char) => isEscapedInEchoes(char.codePointAt(0)!));
}

/** The greeter's own error message when it sent one as JSON, else its body. */
function errorText(body: string): string {
  try {
    const value = JSON.parse(body) as { error?: unknown };
    if (typeof value?.error === "string") return bodyText(value.error);
  } catch {
    // not JSON: fall through
  }
  return bodyText(body);
}

/** A peer's text as our answers quote any input (src/echo.ts); its surrounding blank lines dropped. */
function bodyText(text: string): string {
  return safeText(text.trim()) || "(empty body)";
}

/** Why a connection failed, as the engine says it: echoed under the same rule as any input. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return safeText(String(cause?.code ?? cause?.message ?? error.message));
  }
  return safeText(String(error));
}

function failure(name: string, kind: Failure["kind"], reason: string): Failure {
  return { name, kind, reason };
}
