// `npm run push` against a real registry (Debian's docker-registry, CNCF distribution 2.8, on
// loopback), then the image pulled back by real containerds: the wasm-layer image must survive
// the round trip unchanged (manifest digest, layer media type, wasm/wasip1 platform, the
// component's bytes), because the shim and its precompile cache key on exactly those. Bad input
// (no tarball, a ref without registry, an unreachable or a refusing registry) must end with one
// line saying what to do, and a non-zero exit.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLoopbackRegistry, parsePushArgs, pushTarget, skopeoArgs } from "../scripts/image/push";
import { readPackageIdentity } from "../scripts/image/project";
import { COMPONENT, IMAGE_TARBALL, ROOT } from "../lib/build";
import { listImages, startPrivateContainerd, type PrivateContainerd } from "./support/image-containerd";
import { readTarEntries } from "../scripts/image/tar";
import { requireTools, suiteTitle, toolPath, type ToolCheck } from "./support/tools";
import { startRegistry, type LocalRegistry } from "./support/registry";

const WASM_LAYER = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

const registryTools = requireTools("test/registry.test.ts", ["docker-registry", "skopeo"], "apt-get install docker-registry skopeo");
const containerd2 = requireTools("test/registry.test.ts (containerd 2)", ["containerd2", "ctr2"], "scripts/install-tools.sh builds containerd 2");
const debian = requireTools("test/registry.test.ts (containerd 1.6)", ["containerd", "ctr"], "apt-get install containerd");

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run push -- <args>`, asynchronously (the registry may be served by this process's children). */
function runPush(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PATH: `${join(toolPath(registryTools, "skopeo"), "..")}:${process.env.PATH}` };
    const child = spawn(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/image/push.ts"), ...args], { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("push: refs and transport", () => {
  it.each([
    ["127.0.0.1:5000/wasm-pods:0.1.0", "127.0.0.1:5000"],
    ["localhost:5000/team/wasm-pods:1.2.3", "localhost:5000"],
    ["registry.example.com/team/wasm-pods:0.1.0", "registry.example.com"],
    ["docker.io/me/wasm-pods:0.1.0", "docker.io"],
  ])("%s pushes to %s", (input, registry) => {
    expect(pushTarget(input).registry).toBe(registry);
  });

  it.each(["wasm-pods:0.1.0", "me/wasm-pods:0.1.0", "127.0.0.1:5000/wasm-pods", "127.0.0.1:5000/wasm-pods:latest", "127.0.0.1:5000/Wasm:1"])(
    "rejects %s (no registry, no tag, latest, bad name) as a usage error",
    (input) => {
      expect(() => pushTarget(input)).toThrow(expect.objectContaining({ exitCode: 2 }));
    },
  );

  it("plain HTTP only for a loopback registry or with --insecure", () => {
    const tls = (args: string[]) => skopeoArgs(parsePushArgs(args), "/d", "/p").find((arg) => arg.startsWith("--dest-tls-verify="));
    expect(tls(["127.0.0.1:5000/wasm-pods:0.1.0"])).toBe("--dest-tls-verify=false");
    expect(tls(["localhost:5000/wasm-pods:0.1.0"])).toBe("--dest-tls-verify=false");
    expect(tls(["registry.example.com:5000/wasm-pods:0.1.0"])).toBe("--dest-tls-verify=true");
    expect(tls(["10.0.0.8:5000/wasm-pods:0.1.0"])).toBe("--dest-tls-verify=true");
    expect(tls(["registry.example.com:5000/wasm-pods:0.1.0", "--insecure"])).toBe("--dest-tls-verify=false");
    expect(isLoopbackRegistry("127.8.9.10:80")).toBe(true);
    expect(isLoopbackRegistry("[::1]:5000")).toBe(true);
    expect(isLoopbackRegistry("127.0.0.1.example.com:5000")).toBe(false);
  });

  it("copies the tarball as is: --preserve-digests, oci-archive source, docker destination", () => {
    const args = skopeoArgs(parsePushArgs(["127.0.0.1:5000/team/wasm-pods:0.1.0"], "/x/image.tar"), "/d", "/p");
    expect(args).toContain("--preserve-digests");
    expect(args.slice(-2)).toEqual(["oci-archive:/x/image.tar", "docker://127.0.0.1:5000/team/wasm-pods:0.1.0"]);
  });
});

describe.skipIf(!registryTools.available)(suiteTitle("npm run push against a real registry", registryTools), () => {
  let registry: LocalRegistry;
  let refusing: LocalRegistry;
  let pushed: Run;
  let expectedDigest: string;
  const tag = readPackageIdentity(ROOT).version;
  const ref = () => `${registry.host}/team/wasm-pods:${tag}`;

  beforeAll(async () => {
    const index = JSON.parse((await readTarEntries(IMAGE_TARBALL)).get("index.json")!.bytes.toString("utf8")) as { manifests: { digest: string }[] };
    expectedDigest = index.manifests[0]!.digest;
    [registry, refusing] = await Promise.all([
      startRegistry(toolPath(registryTools, "docker-registry")),
      startRegistry(toolPath(registryTools, "docker-registry"), { readonly: true }),
    ]);
    pushed = await runPush([ref()]);
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), refusing?.stop()]);
  });

  it("pushes, printing skopeo's progress and the digest, which is the tarball's manifest digest", () => {
    expect(pushed.status, pushed.stdout + pushed.stderr).toBe(0);
    expect(pushed.stdout).toContain("    Copying blob sha256:");
    expect(pushed.stdout).toContain(`==> pushed ${ref()}@${expectedDigest} (digest unchanged)`);
  });

  it("the registry serves the very manifest bytes of the tarball under the tag", async () => {
    const response = await fetch(`http://${registry.host}/v2/team/wasm-pods/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(OCI_MANIFEST);
    expect(response.headers.get("docker-content-digest")).toBe(expectedDigest);
    expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(expectedDigest);
  });

  // containerd 2 pulls as k3s's does (`ctr images pull` unpacks: a wasm layer is skipped);
  // Debian's 1.6.20 fails that unpack, so there the pull is `ctr content fetch`, which is
  // `images pull` without it (same resolver, same fetch, same image record).
  const pullers: [string, ToolCheck, string, string, (ref: string) => string[]][] = [
    ["containerd 2 (ctr images pull)", containerd2, "containerd2", "ctr2", (r) => ["images", "pull", "--plain-http", "--all-platforms", r]],
    ["containerd 1.6 (ctr content fetch)", debian, "containerd", "ctr", (r) => ["content", "fetch", "--plain-http", "--all-platforms", r]],
  ];
  describe.each(pullers)("pulled back by %s", (_name, check, containerdBin, ctrBin, pullArgs) => {
    let containerd: PrivateContainerd;
    beforeAll(async () => {
      if (!check.available) return;
      containerd = await startPrivateContainerd({ containerd: toolPath(check, containerdBin), ctr: toolPath(check, ctrBin) });
      containerd.ctr(["-n", "k8s.io", ...pullArgs(ref())]);
    });
    afterAll(async () => {
      await containerd?.stop();
    });

    it.skipIf(!check.available)(suiteTitle("same manifest digest, wasm layer media type, wasm/wasip1 config, the component's bytes", check), () => {
      const images = listImages(containerd, "k8s.io");
      expect(images.map((image) => [image.ref, image.type, image.digest])).toEqual([[ref(), OCI_MANIFEST, expectedDigest]]);
      expect(images[0]!.row).toMatch(/\swasip1\/wasm\s/);

      const content = (digest: string) => containerd.ctrBytes(["-n", "k8s.io", "content", "get", digest]);
      const manifestBytes = content(expectedDigest);
      expect(sha256(manifestBytes)).toBe(expectedDigest);
      const manifest = JSON.parse(manifestBytes.toString("utf8")) as { config: { digest: string }; layers: { mediaType: string; digest: string }[] };
      expect(manifest.layers.map((layer) => layer.mediaType)).toEqual([WASM_LAYER]);

      const config = JSON.parse(content(manifest.config.digest).toString("utf8")) as { architecture: string; os: string };
      expect([config.architecture, config.os]).toEqual(["wasm", "wasip1"]);

      const layer = content(manifest.layers[0]!.digest);
      expect(layer.equals(readFileSync(COMPONENT)), "layer bytes == dist/wasm-pods.wasm").toBe(true);
    });
  });

  describe("bad input: one line saying what to do, non-zero exit", () => {
    const oneLine = (run: Run) => {
      const lines = run.stderr.trim().split("\n");
      expect(lines, run.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^push: /);
      return lines[0]!;
    };

    it("a missing tarball", async () => {
      const run = await runPush(["--tarball", join(ROOT, "dist/no-such-image.oci.tar"), ref()]);
      expect(run.status).toBe(1);
      expect(oneLine(run)).toContain("no-such-image.oci.tar is missing or empty: run ./build.sh");
    });

    it("a ref without a registry", async () => {
      const run = await runPush(["wasm-pods:0.1.0"]);
      expect(run.status).toBe(2);
      expect(oneLine(run)).toContain("names no registry");
    });

    it("an unreachable registry", async () => {
      const closed = await startRegistry(toolPath(registryTools, "docker-registry"));
      await closed.stop(); // a port nothing listens on any more
      const run = await runPush([`${closed.host}/team/wasm-pods:${tag}`]);
      expect(run.status).toBe(1);
      expect(oneLine(run)).toMatch(new RegExp(`cannot reach registry ${closed.host} \\(dial tcp .*connection refused\\).*nothing was pushed`));
    });

    it("a registry that refuses the push", async () => {
      const run = await runPush([`${refusing.host}/team/wasm-pods:${tag}`]);
      expect(run.status).toBe(1);
      expect(oneLine(run)).toMatch(new RegExp(`registry ${refusing.host} rejected the push \\(.*405.*\\); nothing was tagged`));
    });
  });
});
