// Plain `jco serve` as the README runs it: the baseline the benchmark compares the
// local host with, and what test/jco-serve.test.ts checks the README's commands on.
import { join } from "node:path";
import { type Group, spawnGroup } from "../../host/processes";
import { COMPONENT, ROOT } from "./build";
import { freePort } from "./free-port";
import { waitFor200 } from "./wait";

export interface JcoServe {
  url: string;
  group: Group;
  stop(): Promise<void>;
}

/** `jco serve` with `env` as its (and so the guest's) environment; resolves once GET /healthz answers 200. */
export async function startJcoServe(env: Record<string, string>, extraArgs: string[] = []): Promise<JcoServe> {
  // Another process may take the free port before jco binds it: then try another, a few times.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const group = spawnGroup({
      command: join(ROOT, "node_modules/.bin/jco"),
      args: ["serve", "--host", "127.0.0.1", "--port", String(port), ...extraArgs, COMPONENT],
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      cwd: ROOT,
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor200(`${url}/healthz`, {
        timeoutMs: 30_000,
        gaveUp: () => (group.running ? undefined : "jco serve exited before it answered"),
      });
      return { url, group, stop: () => group.stop() };
    } catch (error) {
      const exitedEarly = !group.running; // likely the port was taken: worth another try
      await group.stop();
      if (attempt === 3 || !exitedEarly) throw error;
    }
  }
}
