// `npm run dev` sees every save, of every kind an editor makes: in place,
// rename-replace (sed -i, and many editors by default), delete and create, a new
// file, a burst of saves. Each leads to exactly one build, of the last content.
// The watch loop runs on a scratch project whose build.sh only records what it
// built, and a stand-in cluster that records each rollout: no component is built.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../host/cluster";
import { type DevLoop, watchAndRoll } from "../host/dev";
import type { Build } from "../host/runtimes";
import { pollUntil } from "../lib/wait";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";

const DEBOUNCE_MS = 200;

describe("npm run dev: every kind of save leads to exactly one build of the last content", () => {
  let root: string;
  let dev: DevLoop;
  /** What each rollout's build was made from: the sources' text, as build.sh saw it. */
  const built: string[] = [];
  const file = () => join(root, "src/names.ts");

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "wasm-pods-dev-saves-"));
    mkdirSync(join(root, "src/roles"), { recursive: true });
    mkdirSync(join(root, "wit"));
    writeFileSync(file(), "v0");
    writeFileSync(join(root, "src/roles/greeter.ts"), "greeter");
    writeFileSync(join(root, "wit/world.wit"), "world");
    // The build: the text of every source file, in a stable order, as the "component".
    writeFileSync(
      join(root, "build.sh"),
      '#!/bin/sh\nset -e\n[ -f slow ] && touch building && sleep 1\nfind src wit -type f ! -name ".*" | LC_ALL=C sort | while read -r f; do printf "%s=%s\\n" "$f" "$(cat "$f")"; done > "$DIST/wasm-pods.wasm"\n',
    );
    chmodSync(join(root, "build.sh"), 0o755);
    const cluster = {
      runtime: { prepare: async (component: string): Promise<Build> => ({ component, artifact: component }) },
      rollout: async (build: Build) => {
        built.push(readFileSync(build.component, "utf8"));
        return true;
      },
    } as unknown as Cluster;
    dev = watchAndRoll(cluster, { root, log: () => {}, debounceMs: DEBOUNCE_MS });
  });

  afterAll(() => {
    dev?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** Runs `save`, then waits for one build and for long enough that a second one would have come. */
  async function buildsAfter(save: () => void | Promise<void>): Promise<string[]> {
    const before = built.length;
    await save();
    await pollUntil(() => built.length > before, 20_000, 50);
    await dev.idle();
    await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS * 3 + BUSY_MACHINE_MARGIN_MS));
    await dev.idle();
    return built.slice(before);
  }

  const replaceByRename = (path: string, text: string) => {
    // As sed -i and many editors save: a new file beside it, renamed over it.
    const temporary = join(root, "src", `.names.ts.${Math.random().toString(36).slice(2)}`);
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  };

  const namesLine = (text: string) => text.split("\n").find((line) => line.startsWith("src/names.ts="));

  it("a save in place", async () => {
    const builds = await buildsAfter(() => writeFileSync(file(), "v1"));
    expect(builds.map(namesLine)).toEqual(["src/names.ts=v1"]);
  });

  it("a save that replaces the file by rename, then another, then one in place: each is seen", async () => {
    expect((await buildsAfter(() => replaceByRename(file(), "v2"))).map(namesLine)).toEqual(["src/names.ts=v2"]);
    expect((await buildsAfter(() => replaceByRename(file(), "v3"))).map(namesLine)).toEqual(["src/names.ts=v3"]);
    expect((await buildsAfter(() => writeFileSync(file(), "v4"))).map(namesLine)).toEqual(["src/names.ts=v4"]);
  });

  it("a delete, then a create", async () => {
    const builds = await buildsAfter(async () => {
      unlinkSync(file());
      await new Promise((resolve) => setTimeout(resolve, 20));
      writeFileSync(file(), "v5");
    });
    expect(builds.map(namesLine)).toEqual(["src/names.ts=v5"]);
  });

  it("a new file, in a new folder too", async () => {
    const builds = await buildsAfter(() => writeFileSync(join(root, "src/added.ts"), "added"));
    expect(builds).toHaveLength(1);
    expect(builds[0]).toContain("src/added.ts=added");
    mkdirSync(join(root, "src/more"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const nested = await buildsAfter(() => writeFileSync(join(root, "src/more/deep.ts"), "deep"));
    expect(nested.at(-1)).toContain("src/more/deep.ts=deep");
    // A save inside the new folder is seen too.
    expect((await buildsAfter(() => replaceByRename(join(root, "src/more/deep.ts"), "deeper"))).map((b) => b.includes("src/more/deep.ts=deeper"))).toEqual([true]);
  });

  it("a burst of five rename-replace saves within a second: one build, of the last", async () => {
    const builds = await buildsAfter(async () => {
      for (let i = 1; i <= 5; i++) {
        replaceByRename(file(), `burst ${i}`);
        await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS / 4));
      }
    });
    expect(builds.map(namesLine)).toEqual(["src/names.ts=burst 5"]);
  });

  it("saves while a build runs: one more build after it, of the last content", async () => {
    writeFileSync(join(root, "slow"), "");
    try {
      const builds = await buildsAfter(async () => {
        writeFileSync(file(), "during 0");
        expect(await pollUntil(() => existsSync(join(root, "building")), 10_000, 20)).toBe(true);
        for (let i = 1; i <= 3; i++) replaceByRename(file(), `during ${i}`);
        await pollUntil(() => built.length >= 2, 20_000, 50);
      });
      expect(builds.length).toBeLessThanOrEqual(2);
      expect(namesLine(builds.at(-1)!)).toBe("src/names.ts=during 3");
    } finally {
      rmSync(join(root, "slow"), { force: true });
      rmSync(join(root, "building"), { force: true });
    }
  });

  it("a save of the same text builds nothing", async () => {
    const before = built.length;
    writeFileSync(file(), readFileSync(file()));
    await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS * 3 + BUSY_MACHINE_MARGIN_MS));
    await dev.idle();
    expect(built.length).toBe(before);
  });

  it("a change to wit/ is seen as well", async () => {
    const builds = await buildsAfter(() => replaceByRename(join(root, "wit/world.wit"), "world 2"));
    expect(builds).toHaveLength(1);
    expect(builds[0]).toContain("wit/world.wit=world 2");
  });
});
