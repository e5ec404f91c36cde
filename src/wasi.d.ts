// Host imports that componentize-js fills in; esbuild leaves them external.
declare module "wasi:cli/environment@0.2.12" {
  export function getEnvironment(): Array<[string, string]>;
}
