import { Hono } from "hono";
import { quote } from "../echo";
import { startCalls } from "../fan-out";
import type { Failure, Part } from "../greeter-client";
import { type AppEnv, fail, rawPath, reply } from "../http";
import { parseNameList } from "../names";
import type { RoleDefinition } from "./role";

/** The splitter: GET /split/<name>,<name>,... asks the greeter for every name at once. */
export const splitter: RoleDefinition<"splitter"> = {
  name: "splitter",
  routes: () => {
    const app = new Hono<AppEnv>();
    const noNames = (max: number) => `no names given: use /split/<name>,<name>,... (1 to ${max} names)`;
    app.get("/split", (c) => fail(c, 400, noNames(c.var.config.maxNames)));
    app.get("/split/", (c) => fail(c, 400, noNames(c.var.config.maxNames)));
    app.get("/split/:names", async (c) => {
      const { config } = c.var;
      // Split the raw list on literal commas before decoding: "a%2Cb" is one (invalid) name.
      const list = parseNameList(rawPath(c.req.url).slice("/split/".length), config.maxNames);
      if (!list.ok) return fail(c, 400, list.error);

      const call = {
        baseUrl: config.greeterUrl,
        timeoutMs: config.greeterTimeoutMs,
        requestId: c.get("requestId"),
        fetch: c.env.fetch,
      };
      const fanOut = startCalls(list.names, call);
      if (!fanOut.ok) {
        c.header("Retry-After", "1");
        return fail(c, 503, fanOut.error);
      }
      const outcomes = await fanOut.outcomes;

      // All or nothing: a partial greeting would hide a broken replica.
      const failures = outcomes.flatMap((o) => (o.ok ? [] : [o.error]));
      if (failures.length > 0) return fail(c, statusFor(failures), describeFailures(failures));

      const parts = outcomes.flatMap((o) => (o.ok ? [o.part] : []));
      const greeting = joinGreetings(parts);
      return reply(c, 200, greeting, { greeting, parts, servedBy: config.instanceName });
    });
    return app;
  },
  usage: ["GET /split/<name>,<name>,...  ->  every greeting from the greeter service, joined with ' and '"],
  page: { route: "GET /split/<name>,<name>,…", label: "Names", example: "Sherlock,Po", prefix: "/split/", list: true },
  warmUpPaths: ["/split/Sherlock,Po"],
};

export function joinGreetings(parts: readonly Pick<Part, "greeting">[]): string {
  return parts.map((part) => part.greeting).join(" and ");
}

/** 504 when the greeter was only slow, 502 when it failed or was unreachable. */
function statusFor(failures: readonly Failure[]): 502 | 504 {
  return failures.every((f) => f.kind === "timeout") ? 504 : 502;
}

function describeFailures(failures: readonly Failure[]): string {
  return failures.map((f) => `could not greet ${quote(f.name)}: ${f.reason}`).join("; ");
}
