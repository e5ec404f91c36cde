// The page a browser gets at GET /: chosen by Accept, self-contained, and safe
// by construction (no inline code, no request or environment data in the HTML,
// DOM writes through textContent, a strict CSP on every asset).
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config";
import { PAGE_CSP, PAGE_HTML, PAGE_ICON, PAGE_SCRIPT, PAGE_STYLE } from "../src/page";
import { routerFor } from "./support/router";

const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
const app = (env: Record<string, string>) => routerFor(parseConfig(env), fetch);

describe("GET /", () => {
  it.each(["greeter", "splitter"])("%s: a browser gets the page, curl the usage text, programs JSON", async (role) => {
    const router = app({ ROLE: role, POD_NAME: "p" });
    const page = await router.request("/", { headers: { accept: BROWSER_ACCEPT } });
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toBe(PAGE_CSP);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await page.text()).toBe(PAGE_HTML);
    expect((await router.request("/", { headers: { accept: "*/*" } })).headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect((await router.request("/", { headers: { accept: "application/json" } })).headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("serves its script, style and icon from the pod itself, under the same CSP", async () => {
    const router = app({ ROLE: "splitter" });
    for (const [path, type, body] of [
      ["/_page/app.js", "text/javascript; charset=utf-8", PAGE_SCRIPT],
      ["/_page/style.css", "text/css; charset=utf-8", PAGE_STYLE],
      ["/_page/icon.svg", "image/svg+xml", PAGE_ICON],
    ] as const) {
      const res = await router.request(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("content-security-policy")).toBe(PAGE_CSP);
      expect(await res.text()).toBe(body);
    }
  });

  it("the HTML is the same whatever the request or the environment holds (nothing is reflected into it)", async () => {
    const hostile = "<img src=x onerror=alert(1)>";
    // A POD_NAME with spaces is a config error now; this one is a valid name and still markup.
    const hostileName = "<img/src=x/onerror=alert(1)>";
    const res = await app({ ROLE: "splitter", POD_NAME: hostileName }).request(`/?q=${encodeURIComponent(hostile)}`, {
      headers: { accept: BROWSER_ACCEPT, "x-request-id": "abc" },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(PAGE_HTML);
  });
});

describe("the page's code", () => {
  it("has no inline script, inline handler or inline style, and loads nothing from another host", () => {
    expect(PAGE_HTML).not.toMatch(/<script(?![^>]*\bsrc="\/_page\/app\.js")/);
    expect(PAGE_HTML).not.toMatch(/\son[a-z]+\s*=/i);
    expect(PAGE_HTML).not.toMatch(/\sstyle\s*=/i);
    expect(PAGE_HTML).not.toMatch(/(src|href)="(?!\/_page\/)/);
    expect(PAGE_STYLE).not.toMatch(/url\(|@import/);
  });

  it("writes to the DOM through textContent only: no HTML parsing of strings, no eval", () => {
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute("]) {
      expect(PAGE_SCRIPT, sink).not.toContain(sink);
    }
  });

  it("a CSP with no unsafe-* source, no wildcard and no other host", () => {
    expect(PAGE_CSP).toMatch(/^default-src 'none'/);
    expect(PAGE_CSP).not.toMatch(/unsafe|\*|https?:/);
  });
});
