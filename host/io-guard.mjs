// Runs inside a pod slot's preview2-shim I/O worker (loaded through the shim's
// extension hook, @bytecodealliance/preview2-shim/io-worker callExtension), where
// the shim makes its downstream HTTP requests with node:http.
//
// The shim never aborts a downstream request when the guest drops it: a call the
// guest gave up on at its deadline keeps its connection open and keeps buffering
// the answer for ever. wasmtime ends such calls when it drops the request's store;
// this does the same when the pod says the guest has answered ("abandon").
//
// To see those requests it wraps node:http's and node:https's request() in this worker thread (the
// shim is its only user here). Node 20 publishes no diagnostics event for a request
// whose body is never ended, which is how the shim leaves a guest's GET.
import { createRequire, syncBuiltinESMExports } from "node:module";

export default function create(context) {
  /** Downstream requests made in this worker that have not closed yet. */
  const open = new Set();
  const require = createRequire(import.meta.url);
  for (const module of [require("node:http"), require("node:https")]) {
    const request = module.request;
    module.request = function watchedRequest(...args) {
      const req = request.apply(this, args);
      open.add(req);
      req.once("close", () => open.delete(req));
      return req;
    };
  }
  // The shim imported `request` as ES bindings: point them at the wrappers too.
  syncBuiltinESMExports();

  return (operation) => {
    switch (operation) {
      case "install":
        return true;
      case "abandon": {
        let aborted = 0;
        for (const req of open) {
          open.delete(req);
          if (req.res?.complete) {
            // Answered in full. The shim never ends a GET's request body, so the socket
            // cannot go back to the keep-alive pool: close it rather than leave it to the peer.
            if (!req.writableFinished) req.destroy();
            continue;
          }
          req.res?.destroy();
          req.destroy();
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
