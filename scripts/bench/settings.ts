// What every section of the benchmark shares: how long and how hard it loads, and its log.

export const ROUNDS = 3;
export const LOAD = { connections: 10, seconds: 3, rounds: ROUNDS, warmupSeconds: 1, maxRequests: 200_000 };
export const COLD_STARTS = 5;
export const LATENCY = { requests: 300, seconds: 3 };
const FAN_OUT_NAMES = ["Sherlock", "Po", "Aang", "Sam", "Katara", "Sokka", "Toph", "Zuko", "Iroh", "Suki", "Azula", "Mai", "Ty Lee", "Appa", "Momo", "Yue"];

/** Progress goes to stderr; the table alone goes to stdout. */
export const log = (line: string) => console.error(line);

export const fanOutPath = (count: number) => `/split/${FAN_OUT_NAMES.slice(0, count).map(encodeURIComponent).join(",")}`;
