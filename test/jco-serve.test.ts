// The README's `jco serve` commands, exactly: a greeter and a splitter pointed at
// it, with jco's default instance reuse and with --isolate-requests instance.
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { COMPONENT, ROOT } from "../scripts/lib/build";
import { freePort, waitFor200 } from "../scripts/lib/pods";

const children: ChildProcess[] = [];

async function jcoServe(env: Record<string, string>, extraArgs: string[]): Promise<string> {
  const port = await freePort();
  const args = ["serve", "--host", "127.0.0.1", "--port", String(port), ...extraArgs, COMPONENT];
  const child = spawn(`${ROOT}/node_modules/.bin/jco`, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: "ignore",
    detached: true, // jco serve runs the server in a grandchild: stop the whole group
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/healthz`, { timeoutMs: 30_000 });
  return url;
}

afterAll(() => {
  for (const child of children) if (child.pid) process.kill(-child.pid, "SIGKILL");
});

describe.each([
  { mode: "default (one instance reused)", args: [] },
  { mode: "--isolate-requests instance", args: ["--isolate-requests", "instance"] },
])("jco serve, $mode", ({ args }) => {
  it("serves the greeter and a splitter pointed at it", { timeout: 60_000 }, async () => {
    const greeter = await jcoServe({ ROLE: "greeter" }, args);
    const splitter = await jcoServe({ ROLE: "splitter", GREETER_URL: greeter }, args);
    expect(await (await fetch(`${greeter}/Sherlock`)).text()).toBe("Hello Sherlock!");
    for (let i = 0; i < 3; i++) {
      expect(await (await fetch(`${splitter}/split/Sherlock,Po`)).text()).toBe("Hello Sherlock! and Greetings Po!");
    }
  });
});
