// Where a request goes is decided by its path alone. The Host header only
// decorates the URL the app sees, and a malformed one is refused (RFC 9112 3.2)
// instead of being pasted into a URL that could reroute or break the request.
import { quote } from "./echo";

export type TargetResult = { ok: true; url: string } | { ok: false; error: string };

/** Fallback authority when the client sent no Host (HTTP/1.0) or the host passed none. */
const DEFAULT_AUTHORITY = "localhost";

/** reg-name / IPv4 / [IPv6], optional port: the authority grammar of RFC 3986 minus userinfo. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+;=%]+)(?::\d{0,5})?$/;

/**
 * The absolute URL of a request from the host's view of it. `pathWithQuery` is the
 * request target as the host passes it: origin-form (`/a?b`) from most hosts, but
 * absolute-form (`http://x/a`) when a client sent one and the host passed it through.
 */
export function requestUrl(pathWithQuery: string | undefined, authority: string | undefined, scheme: "http" | "https"): TargetResult {
  let target = pathWithQuery ?? "/";
  let host = authority?.trim() || DEFAULT_AUTHORITY;

  if (/^https?:\/\//i.test(target)) {
    // Absolute-form: a server must accept it (RFC 9112 3.2.2); its path is the route.
    const rest = target.slice(target.indexOf("//") + 2);
    const slash = rest.search(/[/?]/);
    target = slash === -1 ? "/" : rest.slice(slash);
    if (!target.startsWith("/")) target = `/${target}`;
    host = DEFAULT_AUTHORITY;
  } else if (!target.startsWith("/")) {
    return { ok: false, error: `request target ${quote(target)} is not a path; send /<path>` };
  }
  if (!AUTHORITY.test(host) || !validAuthority(host)) {
    return { ok: false, error: `malformed Host header ${quote(host)}` };
  }
  // Fragments never reach a server; a literal '#' in the target is data, not a fragment.
  target = target.replaceAll("#", "%23");
  try {
    const url = new URL(`${scheme}://${host}${target}`);
    return { ok: true, url: url.href };
  } catch {
    return { ok: false, error: `request target ${quote(target)} is not a valid URL path` };
  }
}

/** What the grammar lets through and a URL still refuses: a port above 65535, a bad escape. */
function validAuthority(host: string): boolean {
  try {
    new URL(`http://${host}/`);
    return true;
  } catch {
    return false;
  }
}
