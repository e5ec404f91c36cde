// How every answer is shaped: plain text by default, JSON when the client asks
// for it, and errors that always say why.
import type { Context } from "hono";
import { accepts } from "hono/accepts";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Config, ConfigResult } from "./config";
import type { Fetch } from "./greeter-client";

/**
 * What each request brings besides itself. The routers are built once, before
 * any request (main.ts: in the build's snapshot), so everything that depends on
 * the instance's environment or on the host arrives here, per request.
 */
export type RequestBindings = {
  /** This instance's configuration, parsed from its environment for this request (edge.ts). */
  config: ConfigResult;
  /** How the splitter reaches the greeter service: the host's fetch, or a test's stand-in. */
  fetch: Fetch;
  hostRequestId?: string;
  /** The method exactly as sent, when the Request had to carry another (wasi-http.ts). */
  requestMethod?: string;
  /** Why the request's target or Host could not make a URL: the answer is a 400 saying so. */
  targetError?: string;
};

export type AppEnv = {
  Bindings: RequestBindings;
  /** `config` is set once the configuration is known to be valid (router.ts). */
  Variables: { requestId: string; config: Config };
};

export const TEXT = "text/plain; charset=utf-8";

/** The answer format the client prefers; text when it has no preference (curl's Accept: *\/*). */
export function preferred(c: Context): "text/plain" | "application/json" | "text/html" {
  return accepts(c, { header: "Accept", supports: ["text/plain", "application/json", "text/html"], default: "text/plain" }) as
    | "text/plain"
    | "application/json"
    | "text/html";
}

export function wantsJson(c: Context): boolean {
  return preferred(c) === "application/json";
}

/** One answer, two renderings: `text` for people and curl, `json` for programs. */
export function reply(c: Context, status: ContentfulStatusCode, text: string, json: object): Response {
  if (wantsJson(c)) return c.json(json, status);
  return c.body(text, status, { "content-type": TEXT });
}

export function fail(c: Context, status: ContentfulStatusCode, error: string): Response {
  return reply(c, status, error, { error, status });
}

/** The request's path exactly as sent: still percent-encoded, dot segments resolved. */
export function rawPath(url: string): string {
  return new URL(url).pathname;
}

/** A request id we are willing to echo into headers and logs; anything else is replaced. */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function requestIdFor(fromHeader: string | undefined, fromHost: string | undefined): string {
  if (fromHeader && REQUEST_ID.test(fromHeader)) return fromHeader;
  if (fromHost && REQUEST_ID.test(fromHost)) return fromHost;
  return crypto.randomUUID();
}
