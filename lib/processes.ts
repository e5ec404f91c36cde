// Processes the local twin starts, and how they end: every child runs in a
// process group of its own and is signalled as a group, so nothing it forks is
// left behind; and a process whose parent dies stops itself, however the parent
// died (a SIGKILLed `npm start` must not leave pods holding ports).
import { type ChildProcess, spawn, type StdioOptions } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createInterface } from "node:readline";

export interface GroupSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** "pipe": stdout/stderr are read by the caller; "ignore": dropped. */
  output?: "pipe" | "ignore";
  /** Adds a Node IPC channel (the child must be a node process). */
  ipc?: boolean;
}

export interface Group {
  child: ChildProcess;
  readonly pid: number | undefined;
  /** Resolves with the exit code or signal name once the process is gone (or could not start). */
  exited: Promise<number | string>;
  readonly running: boolean;
  /** Sends `signal` to the whole group; a group already gone is not an error. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Every group started here that may still run: the last-resort exit hook kills them. */
const live = new Set<Group>();

export function spawnGroup(spec: GroupSpec): Group {
  const output = spec.output ?? "ignore";
  const stdio: StdioOptions = ["ignore", output, output];
  if (spec.ipc) stdio.push("ipc");
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio, detached: true });
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    // A missing binary is an 'error' with no 'exit': report it as the exit.
    child.once("error", (error) => resolve(error.message));
  }).then((code) => {
    done = true;
    live.delete(group);
    return code;
  });
  const group: Group = {
    child,
    get pid() {
      return child.pid;
    },
    exited,
    get running() {
      return !done;
    },
    signal(signal) {
      if (done || child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    },
    async stop(graceMs = 1_000) {
      if (done) return;
      group.signal("SIGCONT"); // a stopped process cannot act on SIGTERM
      group.signal("SIGTERM");
      const timer = setTimeout(() => group.signal("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(group);
  return group;
}

export interface RunResult {
  /** The exit code, or the signal that ended it. */
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * Runs a tool (a build step, a compiler) to its end in a group of its own, so it
 * dies with this process however that one ends; `onLine` sees each output line as it
 * comes. Resolves once it has exited and its output is read in full.
 */
/** Calls `onLine` with each line a piped group prints, as it comes; resolves once both streams have closed. */
export function readLines(group: Group, onLine: (line: string, stream: "stdout" | "stderr") => void): Promise<void> {
  return Promise.all(
    (["stdout", "stderr"] as const).map(
      (name) =>
        new Promise<void>((resolveRead) => {
          const stream = group.child[name];
          if (!stream) return resolveRead();
          createInterface({ input: stream, crlfDelay: Infinity })
            .on("line", (line) => onLine(line, name))
            .once("close", resolveRead);
        }),
    ),
  ).then(() => undefined);
}

export async function runToEnd(spec: Omit<GroupSpec, "output" | "ipc">, onLine?: (line: string, stream: "stdout" | "stderr") => void): Promise<RunResult> {
  const group = spawnGroup({ ...spec, output: "pipe" });
  const collected = { stdout: "", stderr: "" };
  const read = readLines(group, (line, name) => {
    collected[name] += `${line}\n`;
    onLine?.(line, name);
  });
  const code = await group.exited;
  await read;
  return { code, ...collected };
}

/** SIGKILLs every group still running, synchronously: for `process.on("exit")`. */
export function killAllGroupsNow(): void {
  for (const group of live) group.signal("SIGKILL");
}

/**
 * Calls `onOrphaned` once this process's parent is gone. Node cannot ask the
 * kernel for a parent-death signal, so it polls: an orphan is re-parented (to 1
 * or a subreaper) and its ppid changes. The timer never keeps the process alive.
 */
export function watchParent(onOrphaned: () => void, intervalMs = 250): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onOrphaned();
    }
  }, intervalMs);
  timer.unref();
}

/**
 * Who listens on TCP `port` (Linux /proc): "pid 1234 (node host/start.ts)", or
 * undefined when that cannot be found out (another user's process, no /proc).
 */
export function portHolder(port: number): string | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const localPort = Number.parseInt(fields[1]?.split(":").pop() ?? "", 16);
      // State 0A is LISTEN.
      if (localPort === port && fields[3] === "0A" && fields[9]) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSafe("/proc").filter((entry) => /^\d+$/.test(entry))) {
    for (const fd of readdirSafe(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return `pid ${pid} (${commandLine(pid)})`;
    }
  }
  return undefined;
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function commandLine(pid: string): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const text = args.join(" ");
    return text.length > 80 ? `${text.slice(0, 80)}…` : text || "?";
  } catch {
    return "?";
  }
}

/** Resident memory of a process in KiB (Linux), 0 when it is gone. */
export function rssKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}
