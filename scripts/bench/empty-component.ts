// The benchmark's ceiling for the production engine: the smallest component this
// toolchain makes (componentize-js, the same wasi:http adapter) around a handler
// that only answers "ok". On wasmtime, a fresh instance per request, its req/s is
// what the engine leaves for any StarlingMonkey component on this machine.
import { incomingHandlerFor } from "../../src/wasi-http";

export const incomingHandler = incomingHandlerFor(async () => new Response("ok"));
