// Noticing that the process(es) above us died, however they died: a SIGKILLed
// `npm start` (or test worker) must not leave pods holding ports. Node cannot
// ask the kernel for a parent-death signal, so poll: a process whose parent
// dies is re-parented (to 1 or a subreaper), so its ppid changes.
import { readFileSync } from "node:fs";

/** The ppid field of /proc/<pid>/stat (Linux), or undefined when it cannot be read. */
export function parentOf(pid: number, readStat: (pid: number) => string = procStat): number | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ")".
    const stat = readStat(pid);
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function procStat(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, "utf8");
}

/**
 * Calls `onOrphaned` once our parent is gone, or, with `grandparent`, once our
 * parent's parent is: `npm start` runs npm -> sh -> tsx -> start.ts, and when npm
 * is sent SIGTERM it signals sh, which dies without passing it on, leaving tsx
 * and us running. The grandparent check needs /proc; elsewhere only the parent
 * is watched. The timer never keeps the process alive.
 */
export function watchParent(onOrphaned: () => void, options: { grandparent?: boolean; intervalMs?: number } = {}): void {
  const parent = process.ppid;
  const grandparent = options.grandparent ? parentOf(parent) : undefined;
  const timer = setInterval(() => {
    const orphaned = process.ppid !== parent || (grandparent !== undefined && parentOf(parent) !== grandparent);
    if (orphaned) {
      clearInterval(timer);
      onOrphaned();
    }
  }, options.intervalMs ?? 250);
  timer.unref();
}
