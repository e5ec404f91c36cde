import { Hono } from "hono";
import { type AppEnv, fail, rawPath, reply } from "../http";
import { greetingFor, parseEncodedName } from "../names";
import type { RoleDefinition } from "./role";

/** The greeter: GET /<name> -> "Hello <name>!" or "Greetings <name>!". */
export const greeter: RoleDefinition<"greeter"> = {
  name: "greeter",
  routes: () =>
    new Hono<AppEnv>().get("/:name", (c) => {
      // The raw segment: decoded once, here (Hono's param would be decoded already).
      const parsed = parseEncodedName(rawPath(c.req.url).slice("/".length));
      if (!parsed.ok) return fail(c, 400, parsed.error);
      const greeting = greetingFor(parsed.name);
      return reply(c, 200, greeting, { name: parsed.name, greeting, servedBy: c.var.config.instanceName });
    }),
  usage: ["GET /<name>  ->  Hello <name>! (names starting with S or s) or Greetings <name>!"],
  page: { route: "GET /<name>", label: "Name", example: "Sherlock", prefix: "/", list: false },
  warmUpPaths: ["/Sherlock", "/Po"],
};
