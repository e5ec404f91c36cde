// A throwaway containerd (Debian's package) on a private socket and temp root/state dirs,
// to check that `ctr images import` accepts the tarball and names the image as the
// manifests expect. Only the content and metadata plugins matter; CRI and the snapshotters
// that probe the host are disabled so it starts in ~0.1 s, as root.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PrivateContainerd {
  readonly socket: string;
  /** Runs `ctr --address <socket> <args>`; throws with stderr on failure. */
  ctr(args: readonly string[]): string;
  stop(): Promise<void>;
}

function configToml(dir: string, socket: string): string {
  return [
    "version = 2",
    `root = "${join(dir, "root")}"`,
    `state = "${join(dir, "state")}"`,
    "disabled_plugins = [",
    '  "io.containerd.grpc.v1.cri",',
    '  "io.containerd.snapshotter.v1.btrfs",',
    '  "io.containerd.snapshotter.v1.zfs",',
    '  "io.containerd.snapshotter.v1.devmapper",',
    '  "io.containerd.snapshotter.v1.aufs",',
    "]",
    "[grpc]",
    `  address = "${socket}"`,
    "[ttrpc]",
    `  address = "${socket}.ttrpc"`,
    "",
  ].join("\n");
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startPrivateContainerd(): Promise<PrivateContainerd> {
  // Short base path: unix socket paths are limited to 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), "wp-ctrd-"));
  const socket = join(dir, "containerd.sock");
  const configPath = join(dir, "config.toml");
  writeFileSync(configPath, configToml(dir, socket));

  const child: ChildProcess = spawn("containerd", ["--config", configPath, "--log-level", "warn"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));

  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      await Promise.race([exitedPromise, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (!exited) child.kill("SIGKILL");
      await exitedPromise;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(() => existsSync(socket) || exited, 15_000, "containerd's socket");
    if (exited) throw new Error(`containerd exited at start:\n${log}`);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    socket,
    ctr(args) {
      const result = spawnSync("ctr", ["--address", socket, ...args], { encoding: "utf8" });
      if (result.status !== 0) {
        throw new Error(`ctr ${args.join(" ")} failed (exit ${result.status}):\n${result.stderr}\ncontainerd log:\n${log}`);
      }
      return result.stdout;
    },
    stop,
  };
}

export function containerdVersion(): string {
  const result = spawnSync("containerd", ["--version"], { encoding: "utf8" });
  return result.stdout.trim();
}
