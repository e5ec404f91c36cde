// Pure: the OCI image layout for a wasm component, in runwasi's wasm-layer format
// (what its oci-tar-builder writes), the only format the shim precompiles and caches.
import { createHash } from "node:crypto";
import type { ImageRef } from "./ref";

const WASM_LAYER_MEDIA_TYPE = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";
const CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
const MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";
const PLATFORM = { architecture: "wasm", os: "wasip1" } as const;
/** containerd's CRI reads the image's StopSignal; the shim drains in-flight requests on SIGINT (SIGTERM exits at once). */
const STOP_SIGNAL = "SIGINT";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface LayoutEntry {
  readonly path: string;
  readonly bytes: Uint8Array;
}

export interface ImageLayout {
  /** Files of the tarball, sorted by path. */
  readonly entries: readonly LayoutEntry[];
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layerDigest: string;
}

function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice("sha256:".length)}`;
}

function describe(mediaType: string, bytes: Uint8Array): Descriptor {
  return { mediaType, digest: `sha256:${sha256Hex(bytes)}`, size: bytes.byteLength };
}

/**
 * runwasi's oci-tar-builder labels the config with sha256(concatenated layer hex digests, no
 * "sha256:" prefix): with `diff_ids: []`, two images with different wasm would otherwise have
 * identical configs (opencontainers/image-spec#1173).
 */
function runwasiLayersLabel(layerHexDigests: readonly string[]): string {
  return sha256Hex(layerHexDigests.join(""));
}

export function buildImageLayout(component: Uint8Array, ref: ImageRef, entrypoint: string): ImageLayout {
  const layer = describe(WASM_LAYER_MEDIA_TYPE, component);
  const layerHex = layer.digest.slice("sha256:".length);

  // No `created`/`history`: timestamps would make every build a new image.
  const config = json({
    architecture: PLATFORM.architecture,
    os: PLATFORM.os,
    config: {
      Entrypoint: [entrypoint],
      Labels: { "containerd.runwasi.layers": runwasiLayersLabel([layerHex]) },
      StopSignal: STOP_SIGNAL,
    },
    rootfs: { type: "layers", diff_ids: [] },
  });
  const configDescriptor = describe(CONFIG_MEDIA_TYPE, config);

  // `ctr images import` names the image from io.containerd.image.name; with only ref.name it
  // invents `import-<date>:<tag>` and pods fail with ErrImageNeverPull (k3s#7015).
  const annotations = {
    "io.containerd.image.name": ref.full,
    "org.opencontainers.image.ref.name": ref.tag,
  };
  const manifest = json({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: configDescriptor,
    layers: [layer],
    annotations,
  });
  const manifestDescriptor: Descriptor = {
    ...describe(MANIFEST_MEDIA_TYPE, manifest),
    annotations,
    platform: { ...PLATFORM },
  };
  const index = json({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [manifestDescriptor] });
  const dockerManifest = json([
    { Config: blobPath(configDescriptor.digest), RepoTags: [ref.full], Layers: [blobPath(layer.digest)] },
  ]);

  const entries: LayoutEntry[] = [
    { path: blobPath(layer.digest), bytes: component },
    { path: blobPath(configDescriptor.digest), bytes: config },
    { path: blobPath(manifestDescriptor.digest), bytes: manifest },
    { path: "index.json", bytes: index },
    { path: "manifest.json", bytes: dockerManifest },
    { path: "oci-layout", bytes: json({ imageLayoutVersion: "1.0.0" }) },
  ];
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    entries,
    manifestDigest: manifestDescriptor.digest,
    configDigest: configDescriptor.digest,
    layerDigest: layer.digest,
  };
}
