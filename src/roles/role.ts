// What a role is, in one place: the router mounts its routes, the configuration
// accepts its name, GET / lists its usage, and the page asks it the way it is asked.
// A role is one file in this folder plus its entry in index.ts.
import type { Hono } from "hono";
import type { AppEnv } from "../http";

export interface RoleDefinition<Name extends string = string> {
  /** The value of ROLE that selects it. */
  name: Name;
  /** Its routes; the configuration and the host's fetch come with each request (c.var.config, c.env.fetch). */
  routes: () => Hono<AppEnv>;
  /** What GET / lists for it, one route a line. */
  usage: readonly string[];
  /** How the page (page.ts) asks it: sent in GET /'s JSON, so the page holds no role of its own. */
  page: PageSection;
  /** Requests the build runs through it before the snapshot (warm-up.ts); no environment, no network. */
  warmUpPaths: readonly string[];
}

export interface PageSection {
  /** The route the page's footer names. */
  route: string;
  /** The input's label and its first value. */
  label: string;
  example: string;
  /** The path asked: `prefix` + the input, encoded as one name or, with `list`, as comma-separated names. */
  prefix: string;
  list: boolean;
}
