// One question over a message channel (a worker thread's port, a child process's IPC), with
// a time limit: a peer that is stuck (in guest code, or a whole pod) must not hang the asker.

/** What both a Worker and a ChildProcess with IPC are to the asker: an emitter of "message". */
export interface MessagePeer {
  on(event: "message", listener: (message: { type?: string; [field: string]: unknown }) => void): unknown;
  off(event: "message", listener: (message: { type?: string; [field: string]: unknown }) => void): unknown;
}

/**
 * Sends `{ type }` with `send` and resolves with the `type` field of the peer's first message of
 * that type (`{ type: "stats", stats }` answers `"stats"`), or undefined after `waitMs`.
 */
export function ask<T>(peer: MessagePeer, send: (message: { type: string }) => void, type: string, waitMs: number): Promise<T | undefined> {
  return new Promise((resolveAnswer) => {
    const timer = setTimeout(() => finish(undefined), waitMs);
    const onMessage = (message: { type?: string; [field: string]: unknown }) => {
      if (message?.type === type) finish(message[type] as T);
    };
    const finish = (answer: T | undefined) => {
      clearTimeout(timer);
      peer.off("message", onMessage);
      resolveAnswer(answer);
    };
    peer.on("message", onMessage);
    send({ type });
  });
}
