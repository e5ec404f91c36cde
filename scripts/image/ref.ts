// The image reference: one source of truth for build.sh, the k3s import and the
// kustomize overlays. Name = package.json `name`, tag = package.json `version`,
// unless the IMAGE env var names another ref.

export interface ImageRef {
  /** Fully normalized, as containerd and the kubelet spell it: docker.io/library/wasm-pods:0.1.0 */
  readonly full: string;
  /** Everything before the tag: docker.io/library/wasm-pods */
  readonly repository: string;
  readonly tag: string;
}

const DEFAULT_REGISTRY = "docker.io";

/**
 * Normalizes a ref the way the kubelet/containerd do (docker reference rules):
 * `foo:1` -> `docker.io/library/foo:1`, `me/foo:1` -> `docker.io/me/foo:1`,
 * `reg.example:5000/foo:1` stays. A missing tag is an error rather than `latest`:
 * with `latest` the kubelet defaults to pulling, which defeats a locally imported image.
 */
export function normalizeRef(ref: string): ImageRef {
  if (ref.includes("@")) throw new Error(`image ref "${ref}": digests are not supported, use name:tag`);
  const lastSlash = ref.lastIndexOf("/");
  const lastColon = ref.lastIndexOf(":");
  if (lastColon <= lastSlash) throw new Error(`image ref "${ref}" has no tag (name:tag expected)`);
  const name = ref.slice(0, lastColon);
  const tag = ref.slice(lastColon + 1);
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new Error(`image ref "${ref}": invalid tag "${tag}"`);
  if (tag === "latest") throw new Error(`image ref "${ref}": use a version tag, not "latest"`);
  // Docker's grammar, loosely: lowercase path components, optional registry host[:port] first.
  if (!/^([a-zA-Z0-9.-]+(:[0-9]+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(name)) {
    throw new Error(`image ref "${ref}": invalid repository name "${name}"`);
  }
  let repository: string;
  if (registryHost(name) !== undefined) repository = name;
  else if (name.includes("/")) repository = `${DEFAULT_REGISTRY}/${name}`;
  else repository = `${DEFAULT_REGISTRY}/library/${name}`;
  return { full: `${repository}:${tag}`, repository, tag };
}

/**
 * The registry host[:port] a ref spells out, or undefined when it names none (Docker Hub
 * is then implied): a first path segment with a dot or port, or "localhost" (docker's rule).
 */
export function registryHost(ref: string): string | undefined {
  const slash = ref.indexOf("/");
  if (slash < 0) return undefined;
  const first = ref.slice(0, slash);
  return /[.:]/.test(first) || first === "localhost" ? first : undefined;
}

export interface PackageIdentity {
  readonly name: string;
  readonly version: string;
}

/** package.json name:version, or $IMAGE when set (non-empty). */
export function imageRefFor(pkg: PackageIdentity, env: Readonly<Record<string, string | undefined>>): ImageRef {
  const override = env.IMAGE?.trim();
  return normalizeRef(override ? override : `${pkg.name}:${pkg.version}`);
}
