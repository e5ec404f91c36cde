// dist/wasm-pods.oci.tar: a self-consistent OCI image layout in runwasi's wasm-layer format,
// deterministic, and accepted by a real containerd under the ref the k3s overlay deploys.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeImageTarball } from "../scripts/image/build-image";
import { imageRefFor, normalizeRef } from "../scripts/image/ref";
import { defaultImageRef, readPackageIdentity } from "../scripts/image/project";
import { COMPONENT, IMAGE_TARBALL, ROOT } from "../scripts/lib/build";
import { containerdVersion, startPrivateContainerd, type PrivateContainerd } from "./support/image-containerd";
import { readTarball, type TarEntry } from "./support/image-tarball";
import { checkTools, reportMissing, suiteTitle } from "./support/kube-tools";

const WASM_LAYER = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";
const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

describe("image ref", () => {
  it.each([
    ["wasm-pods:0.1.0", "docker.io/library/wasm-pods:0.1.0"],
    ["me/wasm-pods:1.2.3", "docker.io/me/wasm-pods:1.2.3"],
    ["registry.example.com:5000/team/wasm-pods:1.0.0-rc.1", "registry.example.com:5000/team/wasm-pods:1.0.0-rc.1"],
    ["localhost/wasm-pods:dev", "localhost/wasm-pods:dev"],
    ["ghcr.io/acme/wasm-pods:0.1.0", "ghcr.io/acme/wasm-pods:0.1.0"],
  ])("normalizes %s to %s, as the kubelet does", (ref, full) => {
    expect(normalizeRef(ref).full).toBe(full);
  });

  it.each(["wasm-pods", "wasm-pods:latest", "Wasm-Pods:1", "wasm-pods@sha256:abc", "reg:5000/wasm-pods", "wasm-pods:"])(
    "rejects %s (no tag, latest, invalid name, digest)",
    (ref) => expect(() => normalizeRef(ref)).toThrow(),
  );

  it("comes from package.json name:version unless IMAGE overrides it", () => {
    const pkg = { name: "wasm-pods", version: "2.0.1" };
    expect(imageRefFor(pkg, {}).full).toBe("docker.io/library/wasm-pods:2.0.1");
    expect(imageRefFor(pkg, { IMAGE: "  " }).full).toBe("docker.io/library/wasm-pods:2.0.1");
    expect(imageRefFor(pkg, { IMAGE: "ghcr.io/acme/wp:9" })).toEqual({
      full: "ghcr.io/acme/wp:9",
      repository: "ghcr.io/acme/wp",
      tag: "9",
    });
  });
});

describe("dist/wasm-pods.oci.tar", () => {
  let entries: Map<string, TarEntry>;
  const json = <T>(path: string): T => {
    const entry = entries.get(path);
    if (!entry) throw new Error(`${path} is not in the tarball (has: ${[...entries.keys()].join(", ")})`);
    return JSON.parse(entry.bytes.toString("utf8")) as T;
  };
  const blob = (descriptor: Descriptor): Buffer => {
    const entry = entries.get(`blobs/sha256/${descriptor.digest.replace(/^sha256:/, "")}`);
    if (!entry) throw new Error(`blob ${descriptor.digest} is missing`);
    return entry.bytes;
  };

  beforeAll(async () => {
    entries = await readTarball(IMAGE_TARBALL);
  });

  it("holds exactly the layout files, every blob named by its sha256", () => {
    const files = [...entries.values()].filter((entry) => entry.header.type === "file").map((entry) => entry.header.name);
    expect(files.filter((name) => !name.startsWith("blobs/")).sort()).toEqual(["index.json", "manifest.json", "oci-layout"]);
    const blobs = files.filter((name) => name.startsWith("blobs/"));
    expect(blobs).toHaveLength(3); // layer, config, manifest
    for (const name of blobs) {
      expect(name).toMatch(/^blobs\/sha256\/[0-9a-f]{64}$/);
      expect(sha256(entries.get(name)!.bytes), name).toBe(name.slice("blobs/sha256/".length));
    }
    expect(json<{ imageLayoutVersion: string }>("oci-layout")).toEqual({ imageLayoutVersion: "1.0.0" });
  });

  it("has fixed, reproducible tar headers (no build time, owner or umask in the archive)", () => {
    for (const { header } of entries.values()) {
      expect(header.mtime?.getTime(), header.name).toBe(0);
      expect([header.uid, header.gid], header.name).toEqual([0, 0]);
      expect(header.mode, header.name).toBe(header.type === "directory" ? 0o755 : 0o644);
    }
    const names = [...entries.keys()];
    expect(names).toEqual([...names].sort());
  });

  it("index -> manifest -> config/layer: digests, sizes and media types agree; layer is the component", () => {
    const ref = defaultImageRef(ROOT);
    const index = json<{ schemaVersion: number; manifests: Descriptor[] }>("index.json");
    expect(index.schemaVersion).toBe(2);
    expect(index.manifests).toHaveLength(1);
    const manifestDescriptor = index.manifests[0]!;
    expect(manifestDescriptor.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifestDescriptor.platform).toEqual({ architecture: "wasm", os: "wasip1" });
    expect(manifestDescriptor.annotations).toEqual({
      "io.containerd.image.name": ref.full,
      "org.opencontainers.image.ref.name": ref.tag,
    });
    expect(blob(manifestDescriptor).byteLength).toBe(manifestDescriptor.size);

    const manifest = JSON.parse(blob(manifestDescriptor).toString("utf8")) as {
      schemaVersion: number;
      mediaType: string;
      config: Descriptor;
      layers: Descriptor[];
      annotations: Record<string, string>;
    };
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.mediaType).toBe(manifestDescriptor.mediaType);
    expect(manifest.annotations).toEqual(manifestDescriptor.annotations);
    expect(manifest.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(blob(manifest.config).byteLength).toBe(manifest.config.size);
    expect(manifest.layers).toHaveLength(1);
    const layer = manifest.layers[0]!;
    expect(layer.mediaType).toBe(WASM_LAYER);
    expect(blob(layer).byteLength).toBe(layer.size);
    expect(blob(layer).equals(readFileSync(COMPONENT)), "layer bytes == dist/wasm-pods.wasm").toBe(true);

    const config = JSON.parse(blob(manifest.config).toString("utf8")) as Record<string, any>;
    expect(config.architecture).toBe("wasm");
    expect(config.os).toBe("wasip1");
    expect(config.rootfs).toEqual({ type: "layers", diff_ids: [] });
    expect(config.created).toBeUndefined();
    expect(config.config.Entrypoint).toEqual([`${readPackageIdentity(ROOT).name}.wasm`]);
    expect(config.config.StopSignal).toBe("SIGINT");
    // runwasi oci-tar-builder: sha256 over the concatenated bare hex layer digests.
    expect(config.config.Labels).toEqual({ "containerd.runwasi.layers": sha256(layer.digest.replace(/^sha256:/, "")) });

    const docker = json<{ Config: string; RepoTags: string[]; Layers: string[] }[]>("manifest.json");
    expect(docker).toEqual([
      {
        Config: `blobs/sha256/${manifest.config.digest.replace(/^sha256:/, "")}`,
        RepoTags: [ref.full],
        Layers: [`blobs/sha256/${layer.digest.replace(/^sha256:/, "")}`],
      },
    ]);
  });

  describe("determinism", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "wp-image-"));
      // A private copy: the component in dist/ may be rebuilt by a concurrent build.
      copyFileSync(COMPONENT, join(dir, "component.wasm"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("the same component gives a byte-identical tarball", async () => {
      const env = { ...process.env, IMAGE: undefined };
      const first = await writeImageTarball(join(dir, "component.wasm"), join(dir, "a.tar"), env);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // a clock tick that timestamps would show
      const second = await writeImageTarball(join(dir, "component.wasm"), join(dir, "b.tar"), env);
      expect(second.manifestDigest).toBe(first.manifestDigest);
      expect(sha256(readFileSync(join(dir, "b.tar")))).toBe(sha256(readFileSync(join(dir, "a.tar"))));
    });
  });
});

const tools = checkTools(["containerd", "ctr"], "apt-get install containerd");
const mustFail = reportMissing("test/image.test.ts (containerd import)", tools, { failInCi: true });
if (mustFail) {
  it("containerd and ctr are required when CI=true", () => {
    throw new Error(`CI=true but ${tools.reason}`);
  });
}

describe.skipIf(!tools.available)(suiteTitle("a real containerd imports the tarball", tools), () => {
  let containerd: PrivateContainerd;
  let expectedManifestDigest: string;
  beforeAll(async () => {
    const index = JSON.parse((await readTarball(IMAGE_TARBALL)).get("index.json")!.bytes.toString("utf8"));
    expectedManifestDigest = (index as { manifests: Descriptor[] }).manifests[0]!.digest;
    containerd = await startPrivateContainerd();
  });
  afterAll(async () => {
    await containerd?.stop();
  });

  it("lists exactly the ref the k3s overlay deploys, for platform wasip1/wasm", () => {
    console.info(`    ${containerdVersion()}`);
    // Debian 12's containerd 1.6.20 cannot unpack wasm layers (needs >= 1.6.25/1.7.7): import only.
    containerd.ctr(["-n", "k8s.io", "images", "import", "--all-platforms", "--no-unpack", IMAGE_TARBALL]);
    const refs = containerd.ctr(["-n", "k8s.io", "images", "ls", "-q"]).trim().split("\n");
    expect(refs).toEqual([defaultImageRef(ROOT).full]);
    // REF TYPE DIGEST SIZE PLATFORMS LABELS
    const [header, row] = containerd.ctr(["-n", "k8s.io", "images", "ls"]).trim().split("\n");
    expect(header).toMatch(/^REF\s+TYPE\s+DIGEST\s+SIZE\s+PLATFORMS/);
    const [ref, type, digest] = row!.split(/\s+/);
    expect(ref).toBe(defaultImageRef(ROOT).full);
    expect(type).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(row).toMatch(/\swasip1\/wasm\s/);
    // containerd stored the manifest the tarball's index points at.
    expect(digest).toBe(expectedManifestDigest);
  });
});

describe("scripts/image/import-k3s.sh against a stand-in `k3s`", () => {
  // The stand-in records its arguments and answers `ctr version` / `images ls -q` like k3s does.
  const FAKE_K3S = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
if [ "$1 $2" = "ctr version" ]; then
  printf 'Client:\\n  Version:  %s\\n\\nServer:\\n  Version:  %s\\n' "$FAKE_VERSION" "$FAKE_VERSION"
elif [ "$5" = ls ]; then
  echo "$FAKE_LISTED"
fi
`;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "wp-k3s-"));
    writeFileSync(join(dir, "k3s"), FAKE_K3S);
    chmodSync(join(dir, "k3s"), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runImport(containerdVersion: string, listed: string) {
    const log = join(dir, `calls-${containerdVersion}-${listed.length}.log`);
    writeFileSync(log, "");
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}`, FAKE_LOG: log, FAKE_VERSION: containerdVersion, FAKE_LISTED: listed };
    delete env.IMAGE;
    const result = spawnSync(join(ROOT, "scripts/image/import-k3s.sh"), [IMAGE_TARBALL], { env, encoding: "utf8" });
    const importCall = readFileSync(log, "utf8").split("\n").find((line) => line.includes(" import "));
    return { status: result.status, output: result.stdout + result.stderr, importCall };
  }

  it.each([
    ["v1.7.23-k3s2", false],
    ["v2.0.4-k3s2", true],
  ])("containerd %s: imports into k8s.io with --all-platforms (--local: %s)", (version, local) => {
    const ref = defaultImageRef(ROOT).full;
    const { status, output, importCall } = runImport(version, ref);
    expect(status, output).toBe(0);
    expect(importCall).toBe(`ctr -n k8s.io images import --all-platforms${local ? " --local" : ""} ${IMAGE_TARBALL}`);
    expect(output).toContain(`imported ${ref}`);
  }, 20_000);

  it("fails, naming the ref, when the image is not listed afterwards", () => {
    const { status, output } = runImport("v1.7.23-k3s2", "docker.io/library/import-2024-01-01:0.1.0");
    expect(status).not.toBe(0);
    expect(output).toContain(`${defaultImageRef(ROOT).full} is not listed`);
  }, 20_000);
});
