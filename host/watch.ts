// Watches folders for saves of every kind, for `npm run dev`.
//
// A recursive fs.watch on Linux (Node 20) watches each file it found at the start:
// after a save that replaces a file by rename (sed -i, and many editors by default)
// it reports that save and nothing more of that file, since the file it watched is
// gone. So this watches every folder instead, never a file: a folder's watch reports
// whatever happens to the names in it (written, replaced, deleted, created) and
// lives as long as the folder. A folder that appears is watched as it appears.
//
// A watch event says only that something may have changed: the sources'
// fingerprint (every file's path and bytes) says whether it did, so an editor's
// swap file that came and went, or a save of the same text, builds nothing.
import { createHash } from "node:crypto";
import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from "node:fs";
import { join, relative } from "node:path";

export interface TreeWatch {
  close(): void;
}

/** Every folder under `dir` (itself included). */
function foldersUnder(dir: string): string[] {
  const found = [dir];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return []; // gone already
  }
  for (const entry of entries) if (entry.isDirectory()) found.push(...foldersUnder(join(dir, entry.name)));
  return found;
}

/** Calls `onEvent` for anything that happens under `roots`, new folders included. */
export function watchTree(roots: string[], onEvent: () => void): TreeWatch {
  const watchers = new Map<string, FSWatcher>();
  const add = (dir: string) => {
    for (const folder of foldersUnder(dir)) {
      if (watchers.has(folder)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(folder, (_event, name) => {
          // A name that is now a folder may be a new one: watch it (and what it holds).
          if (name) {
            const path = join(folder, name.toString());
            if (!watchers.has(path) && isFolder(path)) add(path);
          }
          onEvent();
        });
      } catch {
        continue; // removed between the listing and the watch
      }
      // A folder that is removed ends its watch; a folder of that name made later is a new one.
      watcher.on("error", () => forget(folder));
      watcher.on("close", () => watchers.delete(folder));
      watchers.set(folder, watcher);
    }
  };
  const forget = (folder: string) => {
    watchers.get(folder)?.close();
    watchers.delete(folder);
  };
  for (const root of roots) add(root);
  return {
    close() {
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A digest of every file under `roots`: its path and its bytes. Equal digests, equal sources. */
export function sourcesFingerprint(roots: string[]): string {
  const hash = createHash("sha256");
  for (const root of roots) {
    const files: string[] = [];
    for (const folder of foldersUnder(root)) {
      let entries;
      try {
        entries = readdirSync(folder, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) if (entry.isFile()) files.push(join(folder, entry.name));
    }
    for (const file of files.sort()) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        continue; // removed while listed
      }
      hash.update(`${relative(root, file)}\0${bytes.length}\0`).update(bytes);
    }
  }
  return hash.digest("hex");
}
