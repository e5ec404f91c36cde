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

export type FetchHandler = (request: Request) => Promise<Response>;

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

async function answer(incoming: IncomingRequest, handler: FetchHandler): Promise<Response> {
  const scheme = incoming.scheme()?.tag === "HTTPS" ? "https" : "http";
  const target = requestUrl(incoming.pathWithQuery(), incoming.authority(), scheme);
  if (!target.ok) return plainResponse(400, target.reason);
  // The app serves GET and HEAD only, so request bodies are never read.
  return handler(new Request(target.url, { method: methodName(incoming.method()), headers: readHeaders(incoming) }));
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
  const bytes = new Uint8Array(await response.arrayBuffer());
  const fields: [string, Uint8Array][] = [];
  for (const [name, value] of response.headers) {
    if (name !== "content-length" && name !== "transfer-encoding") fields.push([name, ENCODER.encode(value)]);
  }
  // The length is known, so say it: no chunked encoding, and HEAD keeps GET's length.
  fields.push(["content-length", ENCODER.encode(String(bytes.byteLength))]);
  const outgoing = new OutgoingResponse(Fields.fromList(fields));
  outgoing.setStatusCode(response.status);
  const body = outgoing.body();
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
