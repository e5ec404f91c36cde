import { Hono } from "hono";
import type { Config } from "../config";
import { type AppEnv, fail, rawPath, reply } from "../http";
import { greetingFor, parseEncodedName } from "../names";

/** The greeter: GET /<name> -> "Hello <name>!" or "Greetings <name>!". */
export function greeterRoutes(config: Config) {
  return new Hono<AppEnv>().get("/:name", (c) => {
    // The raw segment: decoded once, here (Hono's param would be decoded already).
    const parsed = parseEncodedName(rawPath(c.req.url).slice("/".length));
    if (!parsed.ok) return fail(c, 400, parsed.reason);
    const greeting = greetingFor(parsed.name);
    return reply(c, 200, greeting, { name: parsed.name, greeting, servedBy: config.instanceName });
  });
}

export const greeterUsage = ["GET /<name>  ->  Hello <name>! (names starting with S or s) or Greetings <name>!"];
