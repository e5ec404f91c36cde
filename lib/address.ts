// The one formatter for addresses the twin, the tools and the tests print or dial.

/** host:port, with IPv6 addresses in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
