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
import type { Edge, RequestContext } from "./edge";
import { requestUrl } from "./request-target";

/**
 * Every answer, the adapter's own failures included, is the app's: a malformed
 * Host reaches it as `targetError`, and a failure outside it (an answer the host
 * refuses) comes back through `internalError`, so each carries the same headers
 * and honours Accept.
 */
export type FetchHandler = Partial<Pick<Edge, "internalError">> & ((request: Request, context: RequestContext) => Promise<Response>);

export function incomingHandlerFor(handler: FetchHandler) {
  return {
    async handle(incoming: IncomingRequest, outparam: ResponseOutparam): Promise<void> {
      // Nothing may escape this function: an exception here traps the instance,
      // and under jco's runtime that takes the whole pod process down.
      let request: Request | undefined;
      let context: RequestContext | undefined;
      const internalError = async (error: unknown) => {
        try {
          if (request && handler.internalError) return await handler.internalError(request, context, error);
        } catch {
          // fall through to the bare answer
        }
        // Only a handler without internalError (the bench's empty component) or one that failed
        // at its own error answer gets here: there is nothing left to build the usual headers from.
        // The literal rather than http.ts's TEXT: this adapter keeps Hono out of the bench's empty component.
        return new Response("internal error", { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
      };
      let response: Response;
      try {
        ({ request, context } = requestOf(incoming));
        response = await handler(request, context);
      } catch (error) {
        response = await internalError(error);
      }
      await send(response, outparam, internalError);
    },
  };
}

/** Methods the Fetch API refuses to put in a Request; the app still answers them (405). */
const FETCH_FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** Where a request goes when its target or Host makes no URL: the app answers it 400 from `targetError`. */
const PLACEHOLDER_URL = "http://localhost/";

function requestOf(incoming: IncomingRequest): { request: Request; context: RequestContext } {
  const scheme = incoming.scheme()?.tag === "HTTPS" ? "https" : "http";
  const target = requestUrl(incoming.pathWithQuery(), incoming.authority(), scheme);
  // The Fetch API upper-cases some methods and refuses others, but HTTP methods are
  // case-sensitive: the app is told the method as sent, beside a Request it can hold.
  const method = methodName(incoming.method());
  const context: RequestContext = target.ok ? { method } : { method, targetError: target.error };
  const url = target.ok ? target.url : PLACEHOLDER_URL;
  const headers = readHeaders(incoming);
  // The app serves GET and HEAD only, so request bodies are never read.
  try {
    const requestMethod = FETCH_FORBIDDEN_METHODS.has(method.toUpperCase()) ? "GET" : method;
    return { request: new Request(url, { method: requestMethod, headers }), context };
  } catch {
    // A method the Fetch API cannot hold at all: the app still sees it as sent, and refuses it (405).
    return { request: new Request(url, { method: "GET", headers }), context };
  }
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

/**
 * Head first, then the body within the stream's permits. Once the head is set
 * nothing can change the status, so a failure after that (the client left) just
 * ends the exchange.
 */
async function send(response: Response, outparam: ResponseOutparam, internalError: (error: unknown) => Promise<Response>): Promise<void> {
  let head: { outgoing: OutgoingResponse; body: OutgoingBody; bytes: Uint8Array };
  try {
    head = await headOf(response);
  } catch (error) {
    // A response the host cannot take (a header value it refuses, say): the app's 500 instead,
    // whose headers are ours alone (a validated instance name and request id).
    head = await headOf(await internalError(error));
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
