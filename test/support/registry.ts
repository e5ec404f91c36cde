// A throwaway registry: Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1:<free
// port> with a temp storage dir, optionally read-only (every push is rejected, as by a
// registry that forbids it).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnGroup } from "../../lib/processes";
import { freePort } from "../../lib/free-port";

export interface LocalRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  readonly host: string;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

async function startOnce(binary: string, readonly: boolean): Promise<LocalRegistry | undefined> {
  const dir = mkdtempSync(join(tmpdir(), "wp-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = [
    "version: 0.1",
    "log: {level: warn}",
    "storage:",
    `  filesystem: {rootdirectory: ${join(dir, "data")}}`,
    ...(readonly ? ["  maintenance:", "    readonly: {enabled: true}"] : []),
    `http: {addr: "${host}"}`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "config.yml"), config);
  const registry = spawnGroup({ command: binary, args: ["serve", join(dir, "config.yml")], env: { PATH: process.env.PATH ?? "" }, output: "pipe" });
  let log = "";
  registry.child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const stop = async () => {
    await registry.stop(5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (registry.running && Date.now() < deadline) {
    if (await answers(`http://${host}/v2/`)) return { host, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  // Another process took the port between freePort() and the bind: the caller retries.
  if (/address already in use/.test(log)) return undefined;
  throw new Error(`docker-registry did not answer on ${host}:\n${log}`);
}

export async function startRegistry(binary: string, { readonly = false } = {}): Promise<LocalRegistry> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const registry = await startOnce(binary, readonly);
    if (registry) return registry;
  }
  throw new Error("docker-registry could not bind a free port in 3 attempts");
}
