// A throwaway containerd on a private socket and temp root/state dirs, to check that
// `ctr images import` / `ctr images pull` accept the image and name it as the manifests
// expect. Two builds are driven: Debian's containerd 1.6 (containerd, ctr) and the 2.0 line
// k3s embeds (containerd2, ctr2 from scripts/install-tools.sh). Only the content, metadata,
// image, snapshot and transfer plugins matter; CRI and the snapshotters that probe the host
// are disabled so it starts in a fraction of a second, as root.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnGroup } from "../../lib/processes";
import { pollUntil } from "../../lib/wait";

export interface ContainerdBinaries {
  /** Absolute paths (test/support/tools.ts finds them). */
  readonly containerd: string;
  readonly ctr: string;
}

export interface PrivateContainerd {
  readonly socket: string;
  /** `containerd --version`, e.g. "containerd github.com/containerd/containerd 1.6.20~ds1 ...". */
  readonly version: string;
  /** The major version (1 or 2): the config format and ctr's flags differ. */
  readonly major: number;
  /** Runs `ctr --address <socket> <args>`; throws with stderr (and containerd's log) on failure. */
  ctr(args: readonly string[]): string;
  /** The same, stdout as bytes (e.g. `content get` of a layer). */
  ctrBytes(args: readonly string[]): Buffer;
  stop(): Promise<void>;
}

function configToml(major: number, dir: string, socket: string): string {
  // containerd 2 split CRI into several plugins and reads config version 3.
  const disabled =
    major >= 2
      ? ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.sandbox.controller.v1.shim"]
      : ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs"];
  disabled.push("io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper");
  return [
    `version = ${major >= 2 ? 3 : 2}`,
    `root = "${join(dir, "root")}"`,
    `state = "${join(dir, "state")}"`,
    `disabled_plugins = [${disabled.map((plugin) => `"${plugin}"`).join(", ")}]`,
    "[grpc]",
    `  address = "${socket}"`,
    "[ttrpc]",
    `  address = "${socket}.ttrpc"`,
    "",
  ].join("\n");
}

export async function startPrivateContainerd(binaries: ContainerdBinaries): Promise<PrivateContainerd> {
  const version = spawnSync(binaries.containerd, ["--version"], { encoding: "utf8" }).stdout.trim();
  const major = Number(/\sv?(\d+)\.\d+\.\d+/.exec(version)?.[1]);
  if (!Number.isInteger(major)) throw new Error(`cannot tell the version of ${binaries.containerd}: "${version}"`);

  // Short base path: unix socket paths are limited to 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), "wp-ctrd-"));
  const socket = join(dir, "containerd.sock");
  const configPath = join(dir, "config.toml");
  writeFileSync(configPath, configToml(major, dir, socket));

  const containerd = spawnGroup({
    command: binaries.containerd,
    args: ["--config", configPath, "--log-level", "warn"],
    env: { PATH: process.env.PATH ?? "" },
    output: "pipe",
  });
  let log = "";
  containerd.child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const stop = async () => {
    await containerd.stop(5_000);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (!(await pollUntil(() => existsSync(socket) || !containerd.running, 15_000, 50))) {
      throw new Error("timed out after 15000 ms waiting for containerd's socket");
    }
    if (!containerd.running) throw new Error(`containerd exited at start:\n${log}`);
  } catch (error) {
    await stop();
    throw error;
  }

  const ctrBytes = (args: readonly string[]): Buffer => {
    const result = spawnSync(binaries.ctr, ["--address", socket, ...args], { maxBuffer: 256 * 2 ** 20 });
    if (result.status !== 0) {
      throw new Error(`ctr ${args.join(" ")} failed (exit ${result.status}):\n${result.stderr.toString()}\ncontainerd log:\n${log}`);
    }
    return result.stdout;
  };
  return { socket, version, major, ctr: (args) => ctrBytes(args).toString("utf8"), ctrBytes, stop };
}

/** `ctr images ls` rows as REF, TYPE, DIGEST, ..., PLATFORMS columns. */
export function listImages(containerd: PrivateContainerd, namespace: string): { ref: string; type: string; digest: string; row: string }[] {
  const [header, ...rows] = containerd.ctr(["-n", namespace, "images", "ls"]).trim().split("\n");
  if (!/^REF\s+TYPE\s+DIGEST\s+SIZE\s+PLATFORMS/.test(header ?? "")) throw new Error(`unexpected ctr images ls header: ${header}`);
  return rows.map((row) => {
    const [ref, type, digest] = row.split(/\s+/);
    return { ref: ref!, type: type!, digest: digest!, row };
  });
}
