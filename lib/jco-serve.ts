// Plain `jco serve` as the README runs it: the baseline the benchmark compares the
// local host with, and what test/jco-serve.test.ts checks the README's commands on.
import { join } from "node:path";
import { type Group, spawnGroup } from "./processes";
import { COMPONENT, ROOT } from "./build";
import { freePort } from "./free-port";
import { pollUntil } from "./wait";

export interface JcoServe {
  url: string;
  group: Group;
  stop(): Promise<void>;
}

/**
 * `jco serve` with `env` as its (and so the guest's) environment; resolves once
 * GET /healthz answers 200 from this very server: its POD_NAME comes back as
 * X-Served-By, so another process that took the port first is not mistaken for it.
 */
export async function startJcoServe(env: Record<string, string>, extraArgs: string[] = []): Promise<JcoServe> {
  const name = env.POD_NAME ?? `jco-serve-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // Another process may take the free port before jco binds it: then try another, a few times.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const group = spawnGroup({
      command: join(ROOT, "node_modules/.bin/jco"),
      args: ["serve", "--host", "127.0.0.1", "--port", String(port), ...extraArgs, COMPONENT],
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, POD_NAME: name },
      cwd: ROOT,
    });
    const url = `http://127.0.0.1:${port}`;
    const ours = await pollUntil(
      async () => {
        if (!group.running) return true;
        try {
          const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
          await res.arrayBuffer();
          return res.status === 200 && res.headers.get("x-served-by") === name;
        } catch {
          return false;
        }
      },
      30_000,
      20,
    );
    if (ours && group.running) return { url, group, stop: () => group.stop() };
    // It exited (most likely the port was taken) or never answered: stop it, and try a new port.
    const exitedEarly = !group.running;
    await group.stop();
    if (attempt === 3 || !exitedEarly) throw new Error(`jco serve did not answer on ${url} within 30 s`);
  }
}
