// The page in a real browser (Debian's headless Chromium, driven by
// playwright-core), served by the splitter of the local topology: the seed
// example, parts from both greeter pods, a 400's reason, and a hostile name shown
// as text. The screenshot goes to dist/screenshots/ (UPDATE_SCREENSHOTS=1: docs/).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../host/cluster";
import { requireRuntime } from "../host/runtimes";
import { ROOT } from "../lib/build";
import { requireTools, suiteTitle, toolPath } from "./support/tools";

const chromiumTool = requireTools("test/browser.test.ts", ["chromium"], "apt-get install chromium (scripts/install-tools.sh --apt)");
const SHOTS = join(ROOT, process.env.UPDATE_SCREENSHOTS === "1" ? "docs" : "dist/screenshots");

describe.skipIf(!chromiumTool.available)(suiteTitle("the page in headless Chromium", chromiumTool), () => {
  let cluster: Cluster;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const jco = requireRuntime("jco");
    cluster = await startCluster({ runtime: jco, splitterPort: 0, greeterPort: 0 });
    browser = await chromium.launch({
      executablePath: toolPath(chromiumTool, "chromium"),
      // No network beyond loopback here: keep Chromium from reaching for Google's services.
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
  }, 60_000);

  // Each test starts from a freshly loaded page.
  beforeEach(async () => {
    await page.goto(`${cluster.splitterUrl}/`);
    await page.waitForSelector("body[data-ready=true]");
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it("shows which pod served it, and greets the prefilled names", async () => {
    expect(await page.textContent("#who")).toBe("splitter pod name-splitter-pod-1");
    await page.click("#go");
    await page.waitForSelector("#answer:not([hidden])");
    expect(await page.textContent("#greeting")).toBe("Hello Sherlock! and Greetings Po!");
    const rows = await page.$$eval("#parts tbody tr", (trs) => trs.map((tr) => [...tr.children].slice(0, 3).map((td) => td.textContent)));
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ["Sherlock", "Hello Sherlock!"],
      ["Po", "Greetings Po!"],
    ]);
    for (const row of rows) expect(row[2]).toMatch(/^name-greeter-pod-[12]$/);
  });

  it("×10 counts the parts per greeter pod: both replicas served", async () => {
    await page.fill("#names", "Sherlock,Po,Aang,Sam");
    await page.click("#x10");
    await page.waitForSelector("#spread:not([hidden])");
    const bars = await page.$$eval("#bars li", (items) => items.map((li) => [li.querySelector(".pod")!.textContent, li.querySelector(".count")!.textContent]));
    expect(bars.map(([pod]) => pod)).toEqual(["name-greeter-pod-1", "name-greeter-pod-2"]);
    const counts = bars.map(([, count]) => Number(/^(\d+) of 40$/.exec(count ?? "")?.[1]));
    expect(counts[0]! + counts[1]!).toBe(40);
    expect(Math.min(...counts)).toBeGreaterThan(0);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "page-splitter.png") });
  });

  it("a bad name shows the server's 400 and its reason", async () => {
    await page.fill("#names", "Sherlock,a/b");
    await page.click("#go");
    await page.waitForSelector("#error:not([hidden])");
    expect(await page.textContent("#error")).toBe('400: name "a/b" may only hold letters, digits, spaces, apostrophes, hyphens and periods');
  });

  it("a name written as HTML is shown as text, never run or parsed", async () => {
    const hostile = '<img src=x onerror="document.title=\'pwned\';alert(1)">';
    await page.fill("#names", hostile);
    await page.click("#go");
    await page.waitForSelector("#error:not([hidden])");
    expect(await page.textContent("#error")).toContain('<img src=x onerror=\\"document.title=');
    expect(await page.$$("#error img, main img")).toHaveLength(0);
    expect(await page.title()).toBe("wasm-pods");
    expect(dialogs).toEqual([]);
  });

  it("logs no error but the 400s it is asked to provoke (no CSP violation, no missing asset)", async () => {
    await page.click("#go");
    await page.waitForSelector("#answer:not([hidden])");
    expect(consoleErrors.filter((e) => !e.includes("status of 400")), consoleErrors.join("\n")).toEqual([]);
  });
});
