// `npm start`: the k3s topology on this machine (see scripts/topology/topology.ts).
// A thin wrapper: parse options, start, print the banner and the log, stop
// every pod on Ctrl-C / SIGTERM. Startup failures are one line, no stack.
import { parseStartArgs, USAGE } from "./topology/args";
import { formatBanner, formatLogEntry } from "./topology/format";
import { watchParent } from "./topology/parent-watch";
import { killEveryPodNow } from "./topology/supervisor";
import { startTopology, type Topology } from "./topology/topology";

function fail(message: string, code: number): never {
  console.error(`npm start: ${message}`);
  process.exit(code);
}

async function main() {
  const parsed = parseStartArgs(process.argv.slice(2), process.env);
  if (!parsed.ok) fail(parsed.error, 2);
  const options = parsed.options;
  if (options.help) {
    console.log(USAGE);
    return;
  }

  // Whatever happens, no pod outlives this process (SIGKILL of this process excepted).
  process.on("exit", killEveryPodNow);

  let topology: Topology | undefined;
  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) {
      // Second Ctrl-C: no more waiting.
      killEveryPodNow();
      process.exit(130);
    }
    stopping = true;
    console.log(`\n${reason}: stopping every pod`);
    if (!topology) process.exit(130); // still starting: the exit hook kills what was spawned
    const started = Date.now();
    void topology.stop().then(() => {
      console.log(`stopped in ${Date.now() - started} ms`);
      process.exit(0);
    });
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  // The tsx CLI, or the shell npm runs it in, is gone: nobody will send us a signal now.
  watchParent(() => shutdown("parent process gone"), { grandparent: true });

  try {
    topology = await startTopology({
      splitterPort: options.splitterPort,
      greeterPort: options.greeterPort ?? null,
      host: options.host,
      runtime: options.runtime,
      isolate: options.isolate,
      log: (entry) => {
        if (options.quiet && entry.kind === "request") return;
        console.log(formatLogEntry(entry));
      },
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error), 1);
  }
  if (stopping) {
    await topology.stop();
    process.exit(0);
  }
  console.log(formatBanner(topology.banner));
}

main().catch((error: unknown) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error), 1));
