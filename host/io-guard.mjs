// Runs inside a pod slot's preview2-shim I/O worker (loaded through the shim's
// extension hook, @bytecodealliance/preview2-shim/io-worker callExtension), where
// the shim makes its downstream HTTP requests with node:http.
//
// The shim never aborts a downstream request when the guest drops it: a call the
// guest gave up on at its deadline keeps its connection open and keeps buffering
// the answer for ever. wasmtime ends such calls when it drops the request's store;
// this does the same when the pod says the guest has answered ("abandon").
import { subscribe } from "node:diagnostics_channel";

export default function create(context) {
  /** Downstream requests made in this worker that have not closed yet. */
  const open = new Set();
  subscribe("http.client.request.start", ({ request }) => {
    open.add(request);
    request.once("close", () => open.delete(request));
  });

  return (operation) => {
    switch (operation) {
      case "install":
        return true;
      case "abandon": {
        let aborted = 0;
        for (const request of open) {
          // A complete answer is not abandoned: its socket goes back to the keep-alive pool.
          if (request.res?.complete) continue;
          request.destroy();
          request.res?.destroy();
          open.delete(request);
          aborted++;
        }
        return aborted;
      }
      case "counts":
        return { ...context.resourceCounts(), openRequests: open.size };
      default:
        throw new Error(`io-guard: unknown operation ${operation}`);
    }
  };
}
