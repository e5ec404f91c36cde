// A steady load for test/kube-node.test.ts, run INSIDE the test node's network namespace
// (`nsenter --net=/run/netns/<node> node netns-load.mjs URL EXPECTED [CONNECTIONS]`), where the
// NodePort lives. Each request opens a new connection, as curl does, so each one crosses
// kube-proxy's rules afresh. Runs until SIGINT or SIGTERM, lets the requests in flight finish,
// then prints one JSON line: {"ok": n, "failed": n, "failures": [first 10 and last 10], "firstFailureAtMs",
// "lastFailureAtMs", "durationMs"} (a refused connection fails in a millisecond, so `failed` counts
// tries; the failure window says how long the trouble lasted).
import http from "node:http";

const [url, expected, connections = "4"] = process.argv.slice(2);
if (!url || expected === undefined) {
  console.error("usage: netns-load.mjs URL EXPECTED_BODY [CONNECTIONS]");
  process.exit(2);
}
const TIMEOUT_MS = 10_000;
const started = Date.now();
let ok = 0;
let failed = 0;
const failures = [];
let lastFailures = [];
let firstFailureAtMs;
let lastFailureAtMs;
let stopping = false;

function once() {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const fail = (why) => {
      failed++;
      firstFailureAtMs ??= t0 - started;
      lastFailureAtMs = Date.now() - started;
      const failure = { atMs: t0 - started, ms: Date.now() - t0, why };
      if (failures.length < 10) failures.push(failure);
      else lastFailures = [...lastFailures.slice(-9), failure];
      resolve();
    };
    const request = http.get(url, { agent: false, timeout: TIMEOUT_MS }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => {
        if (response.statusCode === 200 && body === expected) {
          ok++;
          resolve();
        } else fail(`${response.statusCode} ${body.slice(0, 200)}`);
      });
      response.on("error", (error) => fail(`body: ${error.message}`));
    });
    request.on("timeout", () => request.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    request.on("error", (error) => fail(error.message));
  });
}

async function worker() {
  while (!stopping) await once();
}

const workers = Array.from({ length: Number(connections) }, worker);
const stop = () => (stopping = true);
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
await Promise.all(workers);
console.log(JSON.stringify({ ok, failed, failures: [...failures, ...lastFailures], firstFailureAtMs, lastFailureAtMs, durationMs: Date.now() - started }));
