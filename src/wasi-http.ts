// The component's wasi:http/incoming-handler: a wasi:http request in, a fetch
// function's Response out. The order of the writes is the point of this file:
// the response head is handed to the host (`response-outparam.set`) BEFORE any
// body byte is written, and the body goes out within the output stream's
// `check-write` permits. A host drains the body only once the response is set,
// and its body pipe is bounded (16 KiB in jco's preview2-shim): writing first
// and setting after, as jco-std's adapter does, blocks for ever on a larger body.
import {
  Fields,
  type IncomingRequest,
  type Method,
  OutgoingBody,
  OutgoingResponse,
  type OutputStream,
  ResponseOutparam,
} from "wasi:http/types@0.2.12";
import { requestUrl } from "./request-target";

/** `method` is the request's method exactly as sent; `request.method` may differ (see answer()). */
export type FetchHandler = (request: Request, context: { method: string }) => Promise<Response>;

export function incomingHandlerFor(handler: FetchHandler) {
  return {
    async handle(incoming: IncomingRequest, outparam: ResponseOutparam): Promise<void> {
      // Nothing may escape this function: an exception here traps the instance,
      // and under jco's runtime that takes the whole pod process down.
      let response: Response;
      try {
        response = await answer(incoming, handler);
      } catch (error) {
        response = plainResponse(500, `internal error: ${error instanceof Error ? error.message : String(error)}`);
      }
      await send(response, outparam);
    },
  };
}

/** Methods the Fetch API refuses to put in a Request; the app still answers them (405). */
const FETCH_FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

async function answer(incoming: IncomingRequest, handler: FetchHandler): Promise<Response> {
  const scheme = incoming.scheme()?.tag === "HTTPS" ? "https" : "http";
  const target = requestUrl(incoming.pathWithQuery(), incoming.authority(), scheme);
  if (!target.ok) return plainResponse(400, target.reason);
  // The Fetch API upper-cases some methods and refuses others, but HTTP methods are
  // case-sensitive: the app is told the method as sent, beside a Request it can hold.
  const method = methodName(incoming.method());
  const requestMethod = FETCH_FORBIDDEN_METHODS.has(method.toUpperCase()) ? "GET" : method;
  // The app serves GET and HEAD only, so request bodies are never read.
  return handler(new Request(target.url, { method: requestMethod, headers: readHeaders(incoming) }), { method });
}

function methodName(method: Method): string {
  return method.tag === "other" ? method.val : method.tag.toUpperCase();
}

/** Header bytes as the Fetch API's ByteStrings (latin1); any it refuses is left out, not fatal. */
function readHeaders(incoming: IncomingRequest): Headers {
  const headers = new Headers();
  for (const [name, bytes] of incoming.headers().entries()) {
    try {
      headers.append(name, String.fromCharCode(...bytes));
    } catch {
      // a value the Headers API cannot hold (control bytes): drop that header
    }
  }
  return headers;
}

const ENCODER = new TextEncoder();

function plainResponse(status: number, text: string): Response {
  return new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/**
 * Head first, then the body within the stream's permits. Once the head is set
 * nothing can change the status, so a failure after that (the client left) just
 * ends the exchange.
 */
async function send(response: Response, outparam: ResponseOutparam): Promise<void> {
  let head: { outgoing: OutgoingResponse; body: OutgoingBody; bytes: Uint8Array };
  try {
    head = await headOf(response);
  } catch (error) {
    // A response the host cannot take (a header value it refuses, say): a plain 500 instead.
    head = await headOf(plainResponse(500, `internal error: ${error instanceof Error ? error.message : String(error)}`));
  }
  const { outgoing, body, bytes } = head;
  ResponseOutparam.set(outparam, { tag: "ok", val: outgoing });

  const stream = body.write();
  try {
    writeAll(stream, bytes);
  } catch {
    // The client went away mid-body: nothing left to tell it.
    stream[Symbol.dispose]();
    return;
  }
  stream[Symbol.dispose]();
  try {
    OutgoingBody.finish(body, undefined);
  } catch {
    // as above
  }
}

/** The response's head as the host takes it, and its body's bytes; nothing is handed to the host yet. */
async function headOf(response: Response): Promise<{ outgoing: OutgoingResponse; body: OutgoingBody; bytes: Uint8Array }> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const fields: [string, Uint8Array][] = [];
  for (const [name, value] of response.headers) {
    if (name !== "content-length" && name !== "transfer-encoding") fields.push([name, ENCODER.encode(value)]);
  }
  // The length is known, so say it: no chunked encoding, and HEAD keeps GET's length.
  fields.push(["content-length", ENCODER.encode(String(bytes.byteLength))]);
  const outgoing = new OutgoingResponse(Fields.fromList(fields));
  outgoing.setStatusCode(response.status);
  return { outgoing, body: outgoing.body(), bytes };
}

/** Writes `bytes` in pieces the stream accepts, waiting (blocking this instance) when it is full. */
function writeAll(stream: OutputStream, bytes: Uint8Array): void {
  const pollable = stream.subscribe();
  try {
    let offset = 0;
    while (offset < bytes.byteLength) {
      let permitted = Number(stream.checkWrite());
      if (permitted === 0) {
        pollable.block();
        continue;
      }
      permitted = Math.min(permitted, bytes.byteLength - offset);
      stream.write(bytes.subarray(offset, offset + permitted));
      offset += permitted;
    }
    stream.blockingFlush();
  } finally {
    pollable[Symbol.dispose]();
  }
}
