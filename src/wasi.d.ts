// Host imports that componentize-js fills in; esbuild leaves them external.
// Only what the component calls is declared. componentize-js turns a WIT
// `result` into a return value or a thrown error, and an `option` into a value
// or undefined; resources have [Symbol.dispose] to drop them early.
declare module "wasi:cli/environment@0.2.12" {
  export function getEnvironment(): Array<[string, string]>;
}

declare module "wasi:http/types@0.2.12" {
  export interface Pollable {
    ready(): boolean;
    block(): void;
    [Symbol.dispose](): void;
  }
  export interface OutputStream {
    checkWrite(): bigint;
    write(contents: Uint8Array): void;
    blockingFlush(): void;
    subscribe(): Pollable;
    [Symbol.dispose](): void;
  }
  export type Method =
    | { tag: "get" | "head" | "post" | "put" | "delete" | "connect" | "options" | "trace" | "patch" }
    | { tag: "other"; val: string };
  export type Scheme = { tag: "HTTP" | "HTTPS" } | { tag: "other"; val: string };

  export class Fields {
    static fromList(entries: Array<[string, Uint8Array]>): Fields;
    entries(): Array<[string, Uint8Array]>;
  }
  export interface IncomingRequest {
    method(): Method;
    pathWithQuery(): string | undefined;
    scheme(): Scheme | undefined;
    authority(): string | undefined;
    headers(): Fields;
  }
  export class OutgoingResponse {
    constructor(headers: Fields);
    setStatusCode(status: number): void;
    body(): OutgoingBody;
  }
  export class OutgoingBody {
    write(): OutputStream;
    static finish(body: OutgoingBody, trailers: Fields | undefined): void;
  }
  export class ResponseOutparam {
    static set(param: ResponseOutparam, response: { tag: "ok"; val: OutgoingResponse }): void;
  }
}
