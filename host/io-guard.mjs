// Runs inside a pod slot's preview2-shim I/O worker (loaded through the shim's
// extension hook, @bytecodealliance/preview2-shim/io-worker callExtension), where
// the shim makes its downstream HTTP requests with node:http.
//
// It does two things for the downstream calls of the request the guest is handling.
//
// 1. Abandon. The shim never aborts a downstream request when the guest drops it: a
//    call the guest gave up on at its deadline keeps its connection open and keeps
//    buffering the answer for ever. wasmtime ends such calls when it drops the
//    request's store; this does the same when the pod says the guest has answered.
//
// 2. Freeze. When its deadline passes, the guest cancels the body it is still
//    reading, and StarlingMonkey keeps the read it had queued on that body. When
//    the host then reports the body's end to that read (the answer completing just
//    after the deadline, in this call or in the instance's next one), StarlingMonkey
//    closes a stream that is already cancelled: an uncaught TypeError, a trap, and
//    the slot's thread is gone. The host cannot see the cancel, but it knows when
//    it may come: never before the guest's deadline, which starts after the pod
//    handed it the request. So from that instant on (and once the guest has
//    answered) a downstream answer's body reports neither data nor its end: to the
//    guest it looks stalled, which its deadline already handles. A guest that
//    read its answers in time never sees the difference.
//
// To see those requests it wraps node:http's and node:https's request() in this worker thread (the
// shim is its only user here). Node 20 publishes no diagnostics event for a request
// whose body is never ended, which is how the shim leaves a guest's GET.
import { createRequire, syncBuiltinESMExports } from "node:module";

/** The getter `name` of `object`'s prototype chain (the Readable's own, before this file overrides it). */
function inheritedGetter(object, name) {
  for (let proto = Object.getPrototypeOf(object); proto; proto = Object.getPrototypeOf(proto)) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    if (descriptor?.get) return descriptor.get;
  }
  throw new Error(`io-guard: no getter ${name}`);
}

/**
 * Makes `answer` (an IncomingMessage the shim reads as an input-stream) report no data
 * and no end once `frozen()` is true. The shim reads it through read(), readableEnded,
 * readableLength and errored only; checked on every read, so no read can slip past.
 */
function freezable(answer, frozen) {
  const read = answer.read;
  answer.read = function (size) {
    return frozen() ? null : read.call(this, size);
  };
  for (const [name, stalled] of [
    ["readableEnded", false],
    ["readableLength", 0],
    ["errored", null],
  ]) {
    const get = inheritedGetter(answer, name);
    Object.defineProperty(answer, name, {
      configurable: true,
      get() {
        return frozen() ? stalled : get.call(this);
      },
    });
  }
}

export default function create(context) {
  /** Downstream requests made in this worker that have not closed yet. */
  const open = new Set();
  /** The guest's current request: from when on its downstream answers are frozen (hrtime ns), once known. */
  let call = { freezeAt: undefined };
  const require = createRequire(import.meta.url);
  for (const module of [require("node:http"), require("node:https")]) {
    const request = module.request;
    module.request = function watchedRequest(...args) {
      const req = request.apply(this, args);
      open.add(req);
      req.once("close", () => open.delete(req));
      const owner = call;
      req.once("response", (answer) => freezable(answer, () => owner.freezeAt !== undefined && process.hrtime.bigint() >= owner.freezeAt));
      return req;
    };
  }
  // The shim imported `request` as ES bindings: point them at the wrappers too.
  syncBuiltinESMExports();

  return (operation, args = []) => {
    switch (operation) {
      case "install":
        return true;
      case "deadline": {
        // args[0]: the instant (process.hrtime.bigint(), as a string) before which the guest cannot cancel.
        const at = BigInt(args[0]);
        if (call.freezeAt === undefined || at < call.freezeAt) call.freezeAt = at;
        return true;
      }
      case "abandon": {
        // The guest has answered: nothing it left queued may see an answer's end any more.
        call.freezeAt = 0n;
        call = { freezeAt: undefined };
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
