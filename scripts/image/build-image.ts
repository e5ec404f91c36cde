// CLI: wraps the component into an OCI image-layout tarball (runwasi wasm-layer format).
//   tsx scripts/image/build-image.ts [component.wasm] [out.oci.tar]   writes the tarball
//   tsx scripts/image/build-image.ts --print-ref                      prints the image ref only
// The ref is $IMAGE, else package.json name:version. Writes to a temp file and renames, so
// readers (tests running concurrently) never see a half-written tarball.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { COMPONENT, IMAGE_TARBALL, ROOT } from "../../lib/build";
import { buildImageLayout } from "./layout";
import { projectImageRef, readPackageIdentity } from "./project";
import { tarEntries } from "./tar";
import { errorText } from "../../lib/errors";

export interface WrittenImage {
  readonly ref: string;
  readonly manifestDigest: string;
  readonly bytes: number;
}

export async function writeImageTarball(componentPath: string, outPath: string, env = process.env): Promise<WrittenImage> {
  const ref = projectImageRef(ROOT, env);
  const entrypoint = `${readPackageIdentity(ROOT).name}.wasm`;
  const layout = buildImageLayout(readFileSync(componentPath), ref, entrypoint);
  const tarball = await tarEntries(layout.entries);
  const partial = `${outPath}.${process.pid}.partial`;
  writeFileSync(partial, tarball);
  renameSync(partial, outPath);
  return { ref: ref.full, manifestDigest: layout.manifestDigest, bytes: tarball.byteLength };
}

async function main(args: string[]): Promise<void> {
  if (args[0] === "--print-ref") {
    console.log(projectImageRef(ROOT).full);
    return;
  }
  const componentPath = resolve(args[0] ?? COMPONENT);
  const outPath = resolve(args[1] ?? IMAGE_TARBALL);
  const image = await writeImageTarball(componentPath, outPath);
  console.log(`    image ${image.ref}`);
  console.log(`    digest ${image.manifestDigest} (manifest)`);
  console.log(`    wrote ${basename(outPath)} (${image.bytes} bytes)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`build-image: ${errorText(error)}`);
    process.exit(1);
  });
}
