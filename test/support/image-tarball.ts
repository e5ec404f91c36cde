// Reads an image tarball back: every entry with its header, for the consistency checks.
import { createReadStream } from "node:fs";
import { extract, type Header } from "tar-stream";

export interface TarEntry {
  readonly header: Header;
  readonly bytes: Buffer;
}

export async function readTarball(path: string): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on("end", () => {
        if (entries.has(header.name)) reject(new Error(`duplicate tar entry ${header.name}`));
        entries.set(header.name, { header, bytes: Buffer.concat(chunks) });
        next();
      });
      stream.on("error", reject);
    });
    reader.on("finish", resolve);
    reader.on("error", reject);
  });
  createReadStream(path).on("error", (error) => reader.destroy(error)).pipe(reader);
  await done;
  return entries;
}
