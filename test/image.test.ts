// dist/wasm-pods.oci.tar: a self-consistent OCI image layout in runwasi's wasm-layer format,
// deterministic, and accepted by real containerds (Debian's 1.6 and the 2.0 line k3s embeds)
// under the ref the k3s overlay deploys.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeImageTarball } from "../scripts/image/build-image";
import { imageRefFor, normalizeRef } from "../scripts/image/ref";
import { defaultImageRef, readPackageIdentity } from "../scripts/image/project";
import { COMPONENT, IMAGE_TARBALL, ROOT } from "../lib/build";
import { listImages, startPrivateContainerd, type PrivateContainerd } from "./support/image-containerd";
import { readTarEntries, type TarEntry } from "../scripts/image/tar";
import { requireTools, suiteTitle, toolPath, type ToolCheck } from "./support/tools";

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

  it.each([
    ["wasm-pods", 'image ref "wasm-pods" has no tag (name:tag expected)'],
    ["wasm-pods:latest", 'image ref "wasm-pods:latest": use a version tag, not "latest"'],
    ["Wasm-Pods:1", 'image ref "Wasm-Pods:1": invalid repository name "Wasm-Pods"'],
    ["wasm-pods@sha256:abc", 'image ref "wasm-pods@sha256:abc": digests are not supported, use name:tag'],
    ["reg:5000/wasm-pods", 'image ref "reg:5000/wasm-pods" has no tag (name:tag expected)'],
    ["wasm-pods:", 'image ref "wasm-pods:": invalid tag ""'],
  ])("rejects %s, saying why (no tag, latest, invalid name, digest)", (ref, message) =>
    // The whole message: a ref refused for the wrong reason would pass a bare toThrow().
    expect(() => normalizeRef(ref)).toThrow(new Error(message)),
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
    entries = await readTarEntries(IMAGE_TARBALL);
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

// Debian's containerd 1.6 (what `apt-get install containerd` gives), and the 2.0 and 2.2 lines
// that k3s 1.32 and 1.33/1.34 embed (built by scripts/install-tools.sh as containerd2/ctr2 and
// containerd22/ctr22).
const debian = requireTools("test/image.test.ts (containerd 1.6)", ["containerd", "ctr"], "apt-get install containerd");
const containerd2Lines = [
  { line: "2.0", containerd: "containerd2", ctr: "ctr2" },
  { line: "2.2", containerd: "containerd22", ctr: "ctr22" },
].map((build) => ({ ...build, check: requireTools(`test/image.test.ts (containerd ${build.line})`, [build.containerd, build.ctr], `scripts/install-tools.sh builds containerd ${build.line}`) }));
const binariesOf = (check: ToolCheck, containerd: string, ctr: string) => ({ containerd: toolPath(check, containerd), ctr: toolPath(check, ctr) });

let expectedManifestDigest: string;
beforeAll(async () => {
  const index = JSON.parse((await readTarEntries(IMAGE_TARBALL)).get("index.json")!.bytes.toString("utf8"));
  expectedManifestDigest = (index as { manifests: Descriptor[] }).manifests[0]!.digest;
});

/** ctr lists exactly the ref the k3s overlay deploys, platform wasip1/wasm, with the tarball's manifest digest. */
function expectImported(containerd: PrivateContainerd) {
  const images = listImages(containerd, "k8s.io");
  expect(images.map((image) => image.ref)).toEqual([defaultImageRef(ROOT).full]);
  expect(images[0]!.type).toBe("application/vnd.oci.image.manifest.v1+json");
  expect(images[0]!.row).toMatch(/\swasip1\/wasm\s/);
  // containerd stored the manifest the tarball's index points at.
  expect(images[0]!.digest).toBe(expectedManifestDigest);
}

describe.skipIf(!debian.available)(suiteTitle("Debian's containerd 1.6 imports the tarball", debian), () => {
  let containerd: PrivateContainerd;
  beforeAll(async () => {
    containerd = await startPrivateContainerd(binariesOf(debian, "containerd", "ctr"));
  });
  afterAll(async () => {
    await containerd?.stop();
  });

  it("lists exactly the ref the k3s overlay deploys, for platform wasip1/wasm", () => {
    console.info(`    ${containerd.version}`);
    // 1.6.20 cannot unpack wasm layers (that needs >= 1.6.25/1.7.7, as k3s has): import only.
    containerd.ctr(["-n", "k8s.io", "images", "import", "--all-platforms", "--no-unpack", IMAGE_TARBALL]);
    expectImported(containerd);
  });
});

for (const { line, containerd: containerdTool, ctr, check: containerd2 } of containerd2Lines) {
  describe.skipIf(!containerd2.available)(suiteTitle(`containerd ${line} imports the tarball through scripts/image/import-k3s.sh`, containerd2), () => {
    let containerd: PrivateContainerd;
    let bin: string;
    beforeAll(async () => {
      containerd = await startPrivateContainerd(binariesOf(containerd2, containerdTool, ctr));
      // `k3s ctr ...` is k3s's bundled ctr on k3s's socket: here, ctr2 on the private socket.
      bin = mkdtempSync(join(tmpdir(), "wp-k3s2-"));
      writeFileSync(
        join(bin, "k3s"),
        `#!/bin/sh\n[ "$1" = ctr ] || { echo "stand-in k3s: only ctr is acted out" >&2; exit 99; }\nshift\nexec "${toolPath(containerd2, ctr)}" --address "${containerd.socket}" "$@"\n`,
      );
      chmodSync(join(bin, "k3s"), 0o755);
    });
    afterAll(async () => {
      await containerd?.stop();
      if (bin) rmSync(bin, { recursive: true, force: true });
    });

    it("build.sh --import's path: detects 2.x, imports with --local, unpacks, lists the ref with the tarball's digest", () => {
      console.info(`    ${containerd.version}`);
      expect(containerd.version).toContain(` ${line}.`);
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
      delete env.IMAGE;
      const result = spawnSync(join(ROOT, "scripts/image/import-k3s.sh"), [IMAGE_TARBALL], { env, encoding: "utf8" });
      const output = result.stdout + result.stderr;
      expect(result.status, output).toBe(0);
      expect(output).toContain(`k3s ctr -n k8s.io images import --all-platforms --local ${IMAGE_TARBALL}`);
      // ctr's own line: the unpack that containerd 1.6.20 fails ("mismatched image rootfs and manifest layers").
      expect(output).toMatch(new RegExp(`unpacking ${defaultImageRef(ROOT).full.replaceAll(".", "\\.")} \\(sha256:[0-9a-f]{64}\\)\\.\\.\\.done`));
      expect(output).toContain(`imported ${defaultImageRef(ROOT).full} (${expectedManifestDigest})`);
      expectImported(containerd);
    });
  });
}
