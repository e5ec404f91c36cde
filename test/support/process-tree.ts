// Which processes descend from a pid, from `ps`: how the tests (and anyone
// checking by hand) verify that stopping `npm start` leaves nothing behind.
// Pods run in process groups of their own, but their parent is still the start
// process, so the ppid chain finds them. Zombies count as gone: they hold no
// port and no memory, and an orphan's zombie waits on however quickly PID 1 reaps.
import { execFileSync } from "node:child_process";

export interface ProcessRow {
  pid: number;
  ppid: number;
  pgid: number;
  zombie: boolean;
}

export function parsePsRows(text: string): ProcessRow[] {
  return text.split("\n").flatMap((line): ProcessRow[] => {
    const [pid, ppid, pgid, stat] = line.trim().split(/\s+/);
    const numbers = [pid, ppid, pgid].map(Number);
    if (stat === undefined || !numbers.every((n) => Number.isInteger(n) && n >= 0)) return [];
    return [{ pid: numbers[0]!, ppid: numbers[1]!, pgid: numbers[2]!, zombie: stat.startsWith("Z") }];
  });
}

/** Every descendant of `root` in `rows` (not `root` itself). */
export function descendantsOf(root: number, rows: readonly ProcessRow[]): number[] {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of rows) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const found: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  // Each pid has one parent, so each is queued once: the walk ends after rows.length steps.
  for (let i = 0; i < queue.length && i <= rows.length; i++) {
    const pid = queue[i]!;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

export function listProcesses(): ProcessRow[] {
  return parsePsRows(execFileSync("ps", ["-e", "-o", "pid=,ppid=,pgid=,stat="], { encoding: "utf8" }));
}

/** The pids in `pids` that are still running (not gone, not zombies). */
export function stillRunning(pids: readonly number[], rows: readonly ProcessRow[] = listProcesses()): number[] {
  const running = new Set(rows.filter((row) => !row.zombie).map((row) => row.pid));
  return pids.filter((pid) => running.has(pid));
}

/** Running members of the process groups led by `groupIds`. */
export function groupMembers(groupIds: readonly number[], rows: readonly ProcessRow[] = listProcesses()): number[] {
  const groups = new Set(groupIds);
  return rows.filter((row) => !row.zombie && groups.has(row.pgid)).map((row) => row.pid);
}
