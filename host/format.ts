// What `npm start` prints: the banner once every pod is ready, then one line per
// request that crosses a Service and per pod event. Pure: data in, text out.
import type { LogEntry, ServiceListening } from "./cluster";

export interface BannerInfo {
  runtime: string;
  /** How the pods' component instances are used, e.g. "a fresh instance per request". */
  instances: string;
  readyMs: number;
  /** "built in 12.3 s" or "build up to date". */
  build: string;
  pods: { name: string; url: string | undefined; env: Record<string, string> }[];
  /** Every Service that listens, as the overlays name them. */
  services: Pick<ServiceListening, "name" | "kind" | "url" | "role" | "replicas">[];
  splitterUrl: string;
  greeterUrl: string | undefined;
  /** A hint printed last (e.g. how to run the pods on wasmtime). */
  hint?: string;
}

export function formatBanner(info: BannerInfo): string {
  const width = Math.max(...info.pods.map((pod) => pod.name.length));
  const serviceColumn = Math.max(...info.services.map((service) => service.name.length)) + 2;
  const lines = [
    `wasm-pods topology ready in ${seconds(info.readyMs)} (${info.build}; runtime ${info.runtime}, ${info.instances})`,
    ...info.pods.map((pod) => {
      const env = Object.entries(pod.env)
        .map(([name, value]) => `${name}=${value}`)
        .join(" ");
      return `  pod     ${pod.name.padEnd(width)}  ${pod.url ?? "(down)"}  ${env}`;
    }),
    ...info.services.map(
      (service) =>
        `  service ${service.name.padEnd(serviceColumn)}${service.kind.padEnd("ClusterIP".length)} ${service.url} -> ${service.role} pod${service.replicas === 1 ? "" : "s"}`,
    ),
    "Try:",
    `  curl ${info.splitterUrl}/split/Sherlock,Po`,
    `  curl -H 'Accept: application/json' ${info.splitterUrl}/split/Sherlock,Po`,
    ...(info.greeterUrl ? [`  curl ${info.greeterUrl}/Aang`] : []),
    `  open ${info.splitterUrl}/ in a browser`,
    ...(info.hint ? [info.hint] : []),
    "Ctrl-C stops every pod.",
  ];
  return lines.join("\n");
}

export function formatLogEntry(entry: LogEntry, at: Date = new Date()): string {
  const time = at.toISOString().slice(11, 23);
  switch (entry.kind) {
    case "request": {
      const r = entry.record;
      // A request target can be kilobytes long: the log keeps its start.
      const path = r.path.length > 100 ? `${r.path.slice(0, 100)}…` : r.path;
      return `${time} ${r.via.padEnd(42)} ${r.pod.padEnd(20)} ${r.method} ${path} ${r.outcome} ${r.ms} ms`;
    }
    case "pod":
      return `${time} pod ${entry.pod}: ${entry.message}`;
    case "output":
      return `${time} [${entry.pod}] ${entry.line}`;
    case "rollout":
      return `${time} rollout: ${entry.message}`;
  }
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
