// What `npm start` prints: the readiness banner and one line per event. Pure.
import type { RequestRecord } from "./service-proxy";
import type { PodEvent } from "./supervisor";

export type LogEntry = { kind: "request"; record: RequestRecord } | PodEvent;

export interface BannerPod {
  name: string;
  role: string;
  url: string | undefined;
  env: Record<string, string>;
}

export interface BannerInfo {
  runtime: string;
  isolate: boolean;
  readyMs: number;
  buildMs: number;
  built: boolean;
  pods: BannerPod[];
  clusterIpUrl: string;
  splitterUrl: string;
  greeterUrl: string | undefined;
}

export function formatBanner(info: BannerInfo): string {
  const instances = info.runtime === "wasmtime" || info.isolate ? "a fresh instance per request" : "one instance reused per pod";
  const build = info.built ? `built in ${seconds(info.buildMs)}` : "build up to date";
  const width = Math.max(...info.pods.map((pod) => pod.name.length));
  const lines = [
    `wasm-pods topology ready in ${seconds(info.readyMs)} (${build}; runtime ${info.runtime}, ${instances})`,
    ...info.pods.map((pod) => {
      const env = Object.entries(pod.env)
        .map(([name, value]) => `${name}=${value}`)
        .join(" ");
      return `  pod     ${pod.name.padEnd(width)}  ${pod.url ?? "(down)"}  ${env}`;
    }),
    `  service name-greeter-pod-service   ClusterIP ${info.clusterIpUrl} -> greeter pods (round-robin)`,
    `  service name-splitter-pod-service  NodePort  ${info.splitterUrl} -> splitter pod`,
    ...(info.greeterUrl ? [`  service name-greeter-pod-service   NodePort  ${info.greeterUrl} -> greeter pods`] : []),
    "Try:",
    `  curl ${info.splitterUrl}/split/Sherlock,Po`,
    `  curl -H 'Accept: application/json' ${info.splitterUrl}/split/Sherlock,Po`,
    ...(info.greeterUrl ? [`  curl ${info.greeterUrl}/Aang`] : []),
    "Ctrl-C stops every pod.",
  ];
  return lines.join("\n");
}

export function formatLogEntry(entry: LogEntry, at: Date = new Date()): string {
  const time = at.toISOString().slice(11, 23);
  switch (entry.kind) {
    case "request": {
      const r = entry.record;
      const skipped = r.skipped.length ? `  (skipped ${r.skipped.join(", ")})` : "";
      return `${time} ${r.via.padEnd(42)} ${r.pod.padEnd(20)} ${r.method} ${r.path} ${r.status} ${r.ms} ms${skipped}`;
    }
    case "pod":
      return `${time} pod ${entry.pod}: ${entry.message}`;
    case "output":
      return `${time} [${entry.pod}] ${entry.line}`;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
