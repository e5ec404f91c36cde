// Packs layout entries into a tar archive whose bytes depend only on the entries:
// fixed mtime/uid/gid/mode and no user names, so the same component gives the same tarball;
// and reads one file back out of such an archive.
import { createReadStream } from "node:fs";
import { extract, type Header, pack } from "tar-stream";
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

export interface TarEntry {
  readonly header: Header;
  readonly bytes: Buffer;
}

/** Every entry of a tar archive on disk that `wanted` keeps (all by default), by name; a name twice is an error. */
export async function readTarEntries(archivePath: string, wanted: (name: string) => boolean = () => true): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: unknown) => {
        if (wanted(header.name)) chunks.push(chunk as Buffer);
      });
      stream.on("end", () => {
        if (wanted(header.name)) {
          if (entries.has(header.name)) reject(new Error(`duplicate tar entry ${header.name}`));
          entries.set(header.name, { header, bytes: Buffer.concat(chunks) });
        }
        next();
      });
      stream.on("error", reject);
    });
    reader.on("finish", resolve);
    reader.on("error", reject);
  });
  createReadStream(archivePath).on("error", (error) => reader.destroy(error)).pipe(reader);
  await done;
  return entries;
}

/** The bytes of one file of a tar archive on disk (e.g. an image layout's index.json), or undefined. */
export async function readTarFile(archivePath: string, name: string): Promise<Buffer | undefined> {
  return (await readTarEntries(archivePath, (entry) => entry === name)).get(name)?.bytes;
}
