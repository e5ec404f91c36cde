// I/O edge: this project's identity (package.json) and the image ref derived from it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { imageRefFor, type ImageRef, type PackageIdentity } from "./ref";

export function readPackageIdentity(root: string): PackageIdentity {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Partial<PackageIdentity>;
  if (typeof pkg.name !== "string" || typeof pkg.version !== "string") {
    throw new Error(`${join(root, "package.json")}: "name" and "version" must be strings`);
  }
  return { name: pkg.name, version: pkg.version };
}

/** The ref the build writes: $IMAGE, else package.json name:version. */
export function projectImageRef(root: string, env: Readonly<Record<string, string | undefined>> = process.env): ImageRef {
  return imageRefFor(readPackageIdentity(root), env);
}

/** The ref the checked-in overlays pin: package.json only, whatever $IMAGE says. */
export function defaultImageRef(root: string): ImageRef {
  return imageRefFor(readPackageIdentity(root), {});
}
