// CLI: pushes the OCI image tarball to a registry, unchanged, with skopeo.
//   npm run push -- <registry>/<repo>:<tag> [--insecure] [--tarball dist/wasm-pods.oci.tar]
// skopeo copies oci-archive: -> docker:// with --preserve-digests, so the registry gets the
// exact manifest, config and wasm layer the tarball holds (same digest: the shim's precompile
// cache and `ctr images ls` see the same image on every node). Plain HTTP only for a loopback
// registry (localhost, 127.0.0.0/8, ::1) or with --insecure. Prints skopeo's progress and
// the pushed digest; any failure ends with one line saying what to do, and a non-zero exit.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { IMAGE_TARBALL, ROOT } from "../../lib/build";
import { runToEnd } from "../../lib/processes";
import { findTool } from "../../lib/tools";
import { defaultImageRef } from "./project";
import { type ImageRef, normalizeRef, registryHost } from "./ref";
import { readTarFile } from "./tar";
import { errorText } from "../../lib/errors";

class PushError extends Error {
  override name = "PushError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const USAGE = "usage: npm run push -- <registry>/<repo>:<tag> [--insecure] [--tarball PATH]";

export interface PushOptions {
  readonly target: PushTarget;
  readonly insecure: boolean;
  readonly tarball: string;
}

export interface PushTarget {
  readonly ref: ImageRef;
  /** host[:port] of the registry, as written in the ref. */
  readonly registry: string;
}

/** The ref to push to: a name:tag with the registry spelled out (no implicit Docker Hub). */
export function pushTarget(input: string): PushTarget {
  let ref: ImageRef;
  try {
    ref = normalizeRef(input);
  } catch (error) {
    throw new PushError(`${(error as Error).message}; expected <registry>/<repo>:<tag>, e.g. 127.0.0.1:5000/wasm-pods:0.1.0`, 2);
  }
  const registry = registryHost(input);
  if (registry === undefined) {
    throw new PushError(
      `"${input}" names no registry (it would mean ${ref.full}): write <registry>/<repo>:<tag>, e.g. 127.0.0.1:5000/wasm-pods:0.1.0`,
      2,
    );
  }
  return { ref, registry };
}

/** localhost, 127.0.0.0/8 or ::1, with or without a port. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith("[") ? registry.slice(1, registry.indexOf("]")) : registry.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

export function parsePushArgs(args: readonly string[], defaultTarball = IMAGE_TARBALL): PushOptions {
  let insecure = false;
  let tarball = defaultTarball;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--insecure") insecure = true;
    else if (arg === "--tarball") {
      const value = args[++i];
      if (!value) throw new PushError(`--tarball needs a path (${USAGE})`, 2);
      tarball = resolve(value);
    } else if (arg.startsWith("-")) throw new PushError(`unknown option ${arg} (${USAGE})`, 2);
    else positional.push(arg);
  }
  if (positional.length !== 1) throw new PushError(`expected one image ref, got ${positional.length} (${USAGE})`, 2);
  return { target: pushTarget(positional[0]!), insecure, tarball };
}

/** Plain HTTP (and unverified TLS) only where the user cannot be fooled by the network. */
function allowsPlainHttp(options: PushOptions): boolean {
  return options.insecure || isLoopbackRegistry(options.target.registry);
}

export function skopeoArgs(options: PushOptions, digestFile: string, policyFile: string): string[] {
  return [
    // Our own tarball, just built: no signature to check on the source.
    "--policy",
    policyFile,
    "copy",
    // Fail rather than let skopeo convert or recompress anything: the digest must survive.
    "--preserve-digests",
    "--digestfile",
    digestFile,
    `--dest-tls-verify=${allowsPlainHttp(options) ? "false" : "true"}`,
    `oci-archive:${options.tarball}`,
    `docker://${options.target.ref.full}`,
  ];
}

/** The `msg="..."` of skopeo's fatal log line, unescaped; else its last stderr line. */
function skopeoMessage(stderr: string): string {
  const match = /level=fatal msg="((?:[^"\\]|\\.)*)"/.exec(stderr);
  const raw = match ? match[1]! : stderr.trim().split("\n").at(-1) ?? "";
  return raw.replaceAll('\\"', '"').replaceAll("\\n", " ").trim();
}

/** One line: why the push failed, what state the registry is in, and what to do. */
function explainFailure(options: PushOptions, stderr: string, wroteManifest: boolean): string {
  const { registry } = options.target;
  const why = skopeoMessage(stderr);
  const state = wroteManifest
    ? "the manifest upload failed, so the tag was not changed"
    : "nothing was tagged (layers uploaded so far stay untagged until the registry's garbage collection)";
  if (/connection refused|no such host|i\/o timeout|network is unreachable|no route to host|connection reset/i.test(why)) {
    // skopeo wraps the network error in what it was doing; the network error is what matters.
    const cause = /(dial tcp .*|lookup .*)$/.exec(why)?.[1] ?? why;
    const pushed = /pinging container registry/.test(why) ? "nothing was pushed" : state;
    return `cannot reach registry ${registry} (${cause}): is it running, and is ${registry} the right host:port? ${pushed}`;
  }
  if (/server gave HTTP response to HTTPS client/i.test(why)) {
    return `registry ${registry} speaks plain HTTP: pass --insecure if you trust the network to it (loopback registries need no flag); ${state}`;
  }
  if (/x509|certificate|tls:/i.test(why)) {
    return `TLS to registry ${registry} failed (${why}): trust its CA on this machine, or pass --insecure on a trusted network; ${state}`;
  }
  if (/unauthorized|authentication required|denied|StatusCode: 40[13]/i.test(why)) {
    return `registry ${registry} refused the push (${why}): log in with 'skopeo login ${registry}' and check you may push to ${options.target.ref.repository}; ${state}`;
  }
  return `registry ${registry} rejected the push (${why}); ${state}`;
}

/** The manifest digest the tarball's index.json points at (what the registry must end up with). */
async function tarballManifestDigest(tarball: string): Promise<string> {
  const index = await readTarFile(tarball, "index.json");
  const digest = index && (JSON.parse(index.toString("utf8")) as { manifests?: { digest?: string }[] }).manifests?.[0]?.digest;
  if (!digest) throw new PushError(`${tarball} is not an OCI image layout tarball (no index.json with a manifest): run ./build.sh`);
  return digest;
}

async function runSkopeo(skopeo: string, args: readonly string[]): Promise<{ status: number | string; stderr: string; wroteManifest: boolean }> {
  let wroteManifest = false;
  const result = await runToEnd({ command: skopeo, args: [...args], env: process.env as Record<string, string> }, (line, stream) => {
    if (stream !== "stdout" || !line) return;
    if (line.startsWith("Writing manifest")) wroteManifest = true;
    console.log(`    ${line}`);
  });
  return { status: result.code, stderr: result.stderr, wroteManifest };
}

export async function push(options: PushOptions): Promise<string> {
  const nearby = relative(process.cwd(), options.tarball);
  const shown = nearby && !nearby.startsWith("..") ? nearby : options.tarball;
  if (!existsSync(options.tarball) || statSync(options.tarball).size === 0) {
    throw new PushError(`${shown} is missing or empty: run ./build.sh (or npm run build) first`);
  }
  const skopeo = findTool("skopeo");
  if (!skopeo) throw new PushError("skopeo not found: install it (Debian/Ubuntu: apt-get install skopeo), then run this again");
  const expected = await tarballManifestDigest(options.tarball);
  const transport = allowsPlainHttp(options)
    ? options.insecure
      ? "TLS unverified / plain HTTP allowed (--insecure)"
      : "plain HTTP allowed: loopback registry"
    : "TLS verified";
  console.log(`==> push ${shown} -> ${options.target.ref.full} (manifest ${expected}; ${transport})`);

  const work = mkdtempSync(join(tmpdir(), "wp-push-"));
  try {
    const digestFile = join(work, "digest");
    const policyFile = join(work, "policy.json");
    writeFileSync(policyFile, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
    const result = await runSkopeo(skopeo, skopeoArgs(options, digestFile, policyFile));
    if (result.status !== 0) throw new PushError(explainFailure(options, result.stderr, result.wroteManifest));
    const pushed = existsSync(digestFile) ? readFileSync(digestFile, "utf8").trim() : "";
    if (pushed !== expected) {
      throw new PushError(
        `registry ${options.target.registry} stored manifest ${pushed || "(none reported)"} instead of ${expected}: ${options.target.ref.full} is tagged, but not with this image`,
      );
    }
    return pushed;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(args: readonly string[]): Promise<void> {
  const options = parsePushArgs(args);
  const digest = await push(options);
  const ref = options.target.ref.full;
  console.log(`==> pushed ${ref}@${digest} (digest unchanged)`);
  console.log("    deploy it from there (docs/k3s.md, section 4):");
  console.log(`      (cd kustomize/overlays/registry && kustomize edit set image ${defaultImageRef(ROOT).repository}=${ref})`);
  console.log("      kubectl apply -k kustomize/overlays/registry");
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`push: ${errorText(error)}`);
    process.exit(error instanceof PushError ? error.exitCode : 1);
  });
}
