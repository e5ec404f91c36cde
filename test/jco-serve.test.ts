// The README's `jco serve` commands, exactly: a greeter and a splitter pointed at
// it, with jco's default instance reuse and with --isolate-requests instance.
import { afterAll, describe, expect, it } from "vitest";
import { type JcoServe, startJcoServe } from "../lib/jco-serve";

const started: JcoServe[] = [];
afterAll(() => Promise.all(started.map((server) => server.stop())));

describe.each([
  { mode: "default (one instance reused)", args: [] },
  { mode: "--isolate-requests instance", args: ["--isolate-requests", "instance"] },
])("jco serve, $mode", ({ args }) => {
  it("serves the greeter and a splitter pointed at it", { timeout: 90_000 }, async () => {
    const greeter = await startJcoServe({ ROLE: "greeter" }, args);
    started.push(greeter);
    const splitter = await startJcoServe({ ROLE: "splitter", GREETER_URL: greeter.url }, args);
    started.push(splitter);
    expect(await (await fetch(`${greeter.url}/Sherlock`)).text()).toBe("Hello Sherlock!");
    for (let i = 0; i < 3; i++) {
      expect(await (await fetch(`${splitter.url}/split/Sherlock,Po`)).text()).toBe("Hello Sherlock! and Greetings Po!");
    }
  });
});
