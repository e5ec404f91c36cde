// The splitter's side of the greeter service: one call per name, each under a
// deadline, with a single retry when the connection itself failed.

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface GreeterCall {
  baseUrl: string;
  timeoutMs: number;
  requestId: string;
  fetch: Fetch;
}

export interface Part {
  name: string;
  greeting: string;
  servedBy: string;
  ms: number;
}

export type Failure = { name: string; kind: "timeout" | "unreachable" | "bad-answer"; reason: string };

export type Outcome = { ok: true; part: Part } | { ok: false; failure: Failure };

/** The path is exactly one encoded segment: no name can reach another host or path. */
export function greeterUrlFor(baseUrl: string, name: string): string {
  return `${baseUrl}/${encodeURIComponent(name)}`;
}

export async function askGreeter(name: string, call: GreeterCall): Promise<Outcome> {
  const started = Date.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The race guarantees the deadline even if a host does not abort a stalled body read.
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, call.timeoutMs);
  });
  try {
    const work = attempt(name, call, controller.signal).catch((error: unknown): Failure | "timeout" =>
      controller.signal.aborted
        ? "timeout"
        : failure(name, "unreachable", `the connection to the greeter failed (${describe(error)})`),
    );
    const result = await Promise.race([work, deadline]);
    if (result === "timeout") {
      return { ok: false, failure: failure(name, "timeout", `the greeter did not answer within ${call.timeoutMs} ms`) };
    }
    if ("reason" in result) return { ok: false, failure: result };
    return { ok: true, part: { ...result, ms: Date.now() - started } };
  } finally {
    clearTimeout(timer);
  }
}

async function attempt(name: string, call: GreeterCall, signal: AbortSignal): Promise<Omit<Part, "ms"> | Failure> {
  const url = greeterUrlFor(call.baseUrl, name);
  const init: RequestInit = {
    headers: { accept: "application/json", "x-request-id": call.requestId },
    signal,
  };
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
      return failure(name, "unreachable", `the greeter at ${call.baseUrl} is unreachable (${describe(second)})`);
    }
  }
  const body = await response.text();
  if (!response.ok) {
    return failure(name, "bad-answer", `the greeter answered ${response.status}: ${errorText(body)}`);
  }
  const answer = parseAnswer(body);
  if (!answer) return failure(name, "bad-answer", `the greeter's answer is not a greeting: ${snippet(body)}`);
  return { name, greeting: answer.greeting, servedBy: answer.servedBy };
}

function parseAnswer(body: string): { greeting: string; servedBy: string } | undefined {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value !== "object" || value === null) return undefined;
    const { greeting, servedBy } = value as Record<string, unknown>;
    if (typeof greeting !== "string") return undefined;
    return { greeting, servedBy: typeof servedBy === "string" ? servedBy : "unknown" };
  } catch {
    return undefined;
  }
}

/** The greeter's own error message when it sent one as JSON, else the start of its body. */
function errorText(body: string): string {
  try {
    const value = JSON.parse(body) as { error?: unknown };
    if (typeof value?.error === "string") return snippet(value.error);
  } catch {
    // not JSON: fall through
  }
  return snippet(body) || "(empty body)";
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

function failure(name: string, kind: Failure["kind"], reason: string): Failure {
  return { name, kind, reason };
}
