// Packs layout entries into a tar archive whose bytes depend only on the entries:
// fixed mtime/uid/gid/mode and no user names, so the same component gives the same tarball;
// and reads one file back out of such an archive.
import { createReadStream } from "node:fs";
import { extract, pack } from "tar-stream";
import type { LayoutEntry } from "./layout";

const FIXED_MTIME = new Date(0);

function directoriesOf(entries: readonly LayoutEntry[]): string[] {
  const dirs = new Set<string>();
  for (const { path } of entries) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return [...dirs].sort();
}

export async function tarEntries(entries: readonly LayoutEntry[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
  const finished = new Promise<void>((resolve, reject) => {
    archive.on("end", resolve);
    archive.on("error", reject);
  });
  const common = { mtime: FIXED_MTIME, uid: 0, gid: 0, uname: "", gname: "" };
  // Parent directories first (some extractors want them), then files in the caller's order.
  for (const dir of directoriesOf(entries)) {
    archive.entry({ ...common, name: `${dir}/`, type: "directory", mode: 0o755 });
  }
  for (const { path, bytes } of entries) {
    await new Promise<void>((resolve, reject) =>
      archive.entry({ ...common, name: path, type: "file", mode: 0o644, size: bytes.byteLength }, Buffer.from(bytes), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  archive.finalize();
  await finished;
  return Buffer.concat(chunks);
}

/** The bytes of one file of a tar archive on disk (e.g. an image layout's index.json), or undefined. */
export async function readTarFile(archivePath: string, name: string): Promise<Buffer | undefined> {
  const reader = extract();
  let found: Buffer | undefined;
  const done = new Promise<void>((resolve, reject) => {
    reader.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: unknown) => {
        if (header.name === name) chunks.push(chunk as Buffer);
      });
      stream.on("end", () => {
        if (header.name === name) found = Buffer.concat(chunks);
        next();
      });
      stream.on("error", reject);
    });
    reader.on("finish", resolve);
    reader.on("error", reject);
  });
  createReadStream(archivePath).on("error", (error) => reader.destroy(error)).pipe(reader);
  await done;
  return found;
}
