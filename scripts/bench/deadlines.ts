// The contract's deadline on an otherwise idle machine: how late the 504s come.
import { createServer } from "node:http";
import { HOST_LABELS, startHost } from "./hosts";
import { limitTarget, type Row, row } from "./report";
import { log } from "./settings";

/**
 * The contract's deadline, on an otherwise idle machine: 4 concurrent splits behind
 * a greeter that never answers, GREETER_TIMEOUT_MS=1000; how late the 504s come.
 * (The tests bound this loosely, with a busy machine's margin.)
 */
export async function deadlines(): Promise<Row[]> {
  log("== 504 behind a stalled greeter: 4 concurrent splits, GREETER_TIMEOUT_MS=1000, 5 rounds");
  const stalled = createServer(() => {}); // accepts, never answers
  await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
  const greeterUrl = `http://127.0.0.1:${(stalled.address() as { port: number }).port}`;
  const rows: Row[] = [];
  try {
    for (const kind of ["local-jco", "local-wasmtime"] as const) {
      const splitter = await startHost(kind, { ROLE: "splitter", POD_NAME: "s", GREETER_URL: greeterUrl, GREETER_TIMEOUT_MS: "1000" });
      const lateness: number[] = [];
      try {
        for (let round = 0; round < 5; round++) {
          const started = performance.now();
          const times = await Promise.all(
            Array.from({ length: 4 }, async () => {
              const res = await fetch(`${splitter.url}/split/Sam`, { signal: AbortSignal.timeout(10_000) });
              await res.arrayBuffer();
              if (res.status !== 504) throw new Error(`${kind}: a stalled greeter gave ${res.status}, not 504`);
              return performance.now() - started;
            }),
          );
          lateness.push(Math.max(...times) - 1000);
        }
      } finally {
        await splitter.stop();
      }
      const worst = Math.max(...lateness);
      log(`   ${HOST_LABELS[kind]}: slowest of 4 concurrent 504s, after the deadline: ${lateness.map((ms) => ms.toFixed(0)).join(", ")} ms`);
      rows.push(limitTarget(row("deadline", `${kind === "local-jco" ? "jco" : "wasmtime"}: slowest 504 past GREETER_TIMEOUT_MS`, worst, "ms"), "<= 250 ms", 250));
    }
  } finally {
    stalled.closeAllConnections();
    stalled.close();
  }
  return rows;
}
