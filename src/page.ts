// The page a browser gets at GET /: a small client for the routes this pod
// serves, from the component itself (no CDN, no build step), so it works offline
// and inside a cluster. Safe by construction: the HTML holds no request or
// environment data (the script asks GET / for JSON), the script writes every
// string with textContent, and the Content-Security-Policy allows only this
// pod's own script, style and fetches.
import { Hono } from "hono";
import type { AppEnv } from "./http";

/** Everything else is refused: no inline code, no other host, no plugins, no framing. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": PAGE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wasm-pods</title>
<link rel="icon" href="/_page/icon.svg">
<link rel="stylesheet" href="/_page/style.css">
<script src="/_page/app.js" defer></script>
</head>
<body>
<header><h1>wasm-pods</h1><p id="who">…</p></header>
<main>
<form id="ask">
<label for="names" id="label">Names</label>
<div class="row"><input id="names" name="names" autocomplete="off" spellcheck="false" value="Sherlock,Po">
<button type="submit" id="go">Greet</button><button type="button" id="x10" title="Ask ten times and count the pods">×10</button></div>
</form>
<section id="answer" hidden><p id="greeting"></p>
<table id="parts"><thead><tr><th>name</th><th>greeting</th><th>greeter pod</th><th>ms</th></tr></thead><tbody></tbody></table></section>
<section id="spread" hidden><h2>Parts per greeter pod over the last ten calls</h2><ul id="bars"></ul></section>
<p id="error" role="alert" hidden></p>
</main>
<footer>One WebAssembly component, one role per pod: this page calls <code id="route"></code> on the pod that served it.</footer>
</body>
</html>
`;

export const PAGE_STYLE = `:root{color-scheme:light dark;--bg:#f6f7fb;--fg:#1d2330;--muted:#667085;--card:#fff;--line:#e3e6ee;--accent:#5b4bdb;--bad:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#12141b;--fg:#e7e9ef;--muted:#98a2b3;--card:#1b1f2a;--line:#2b3140;--accent:#8b7cf6;--bad:#f97066}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{padding:20px 28px;background:linear-gradient(120deg,#3b2f9e,#5b4bdb 60%,#7c6cf0);color:#fff}
h1{margin:0;font-size:22px;letter-spacing:.3px}#who{margin:2px 0 0;opacity:.85}
main{max-width:760px;margin:24px auto;padding:0 20px}
form,section,#error{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 18px;margin-bottom:16px}
label{display:block;font-weight:600;margin-bottom:6px}.row{display:flex;gap:8px}
input{flex:1;font:inherit;padding:8px 10px;border:1px solid var(--line);border-radius:8px;background:transparent;color:inherit}
button{font:inherit;font-weight:600;padding:8px 14px;border:0;border-radius:8px;background:var(--accent);color:#fff;cursor:pointer}
button[disabled]{opacity:.5;cursor:progress}#x10{background:transparent;color:var(--accent);border:1px solid var(--accent)}
#greeting{font-size:18px;font-weight:600;margin:0 0 10px}table{width:100%;border-collapse:collapse;font-size:14px}
th,td{text-align:left;padding:6px 8px;border-top:1px solid var(--line)}th{color:var(--muted);font-weight:500;border-top:0}
td.ms{text-align:right;font-variant-numeric:tabular-nums}
.pod{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12.5px;font-weight:600;color:#fff;white-space:nowrap}
h2{font-size:15px;margin:0 0 10px}ul{list-style:none;margin:0;padding:0}li{display:flex;align-items:center;gap:10px;margin:6px 0}
.bar{height:12px;border-radius:6px}.count{color:var(--muted);font-variant-numeric:tabular-nums}
#error{border-color:var(--bad);color:var(--bad);font-weight:600}footer{max-width:760px;margin:0 auto 30px;padding:0 20px;color:var(--muted);font-size:13px}
`;

/** A hexagon, the WebAssembly-ish shape: without an icon link a browser asks for /favicon.ico, a "name" to the greeter. */
export const PAGE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2l12 7v14l-12 7-12-7V9z" fill="#5b4bdb"/></svg>`;

/** Plain JS for any current browser; strings reach the DOM through textContent only. */
export const PAGE_SCRIPT = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const show = (id, on) => { $(id).hidden = !on; };
  // Each pod its own colour, in the order pods first show up (pod names differ in one letter only).
  const palette = ["#5b4bdb", "#e8590c", "#0ca678", "#d6336c", "#1c7ed6", "#f59f00", "#7048e8", "#2b8a3e"];
  const colours = new Map();
  const colour = (pod) => {
    if (!colours.has(pod)) colours.set(pod, palette[colours.size % palette.length]);
    return colours.get(pod);
  };
  const chip = (pod) => {
    const span = document.createElement("span");
    span.className = "pod";
    span.textContent = pod;
    span.style.background = colour(pod);
    return span;
  };
  const cell = (row, content, cls) => {
    const td = row.insertCell();
    if (cls) td.className = cls;
    if (typeof content === "string") td.textContent = content; else td.append(content);
  };
  // How this pod's role is asked: GET /'s JSON says (src/roles/).
  let page = { prefix: "/split/", list: true };
  const pathFor = (text) => {
    const names = page.list ? text.split(",") : [text];
    return page.prefix + names.map((n) => encodeURIComponent(n.trim())).join(",");
  };
  async function ask(text) {
    const res = await fetch(pathFor(text), { headers: { accept: "application/json" } });
    let body;
    try { body = await res.json(); } catch { body = { error: "the pod answered " + res.status + " without JSON" }; }
    if (!res.ok) throw new Error(res.status + ": " + (body && body.error ? body.error : "error"));
    // A split answers its parts; any other role is one part of its own.
    const parts = body.parts || [{ name: body.name, greeting: body.greeting, servedBy: body.servedBy, ms: null }];
    return { greeting: body.greeting, parts };
  }
  function render(answer) {
    $("greeting").textContent = answer.greeting;
    const rows = $("parts").tBodies[0];
    rows.replaceChildren();
    for (const part of answer.parts) {
      const row = rows.insertRow();
      cell(row, part.name);
      cell(row, part.greeting);
      cell(row, chip(part.servedBy));
      cell(row, part.ms === null ? "" : String(part.ms), "ms");
    }
    show("answer", true);
  }
  function renderSpread(counts) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const list = $("bars");
    list.replaceChildren();
    for (const [pod, count] of [...counts.entries()].sort()) {
      const li = document.createElement("li");
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = Math.max(4, Math.round((count / total) * 320)) + "px";
      bar.style.background = colour(pod);
      const n = document.createElement("span");
      n.className = "count";
      n.textContent = count + " of " + total;
      li.append(chip(pod), bar, n);
      list.append(li);
    }
    show("spread", true);
  }
  function fail(error) {
    $("error").textContent = error.message;
    show("error", true);
  }
  async function run(times) {
    show("error", false);
    for (const b of [$("go"), $("x10")]) b.disabled = true;
    try {
      const counts = new Map();
      for (let i = 0; i < times; i++) {
        const answer = await ask($("names").value);
        render(answer);
        for (const part of answer.parts) counts.set(part.servedBy, (counts.get(part.servedBy) || 0) + 1);
      }
      if (times > 1) renderSpread(counts); else show("spread", false);
    } catch (error) {
      fail(error);
    } finally {
      for (const b of [$("go"), $("x10")]) b.disabled = false;
    }
  }
  $("ask").addEventListener("submit", (event) => { event.preventDefault(); run(1); });
  $("x10").addEventListener("click", () => run(10));
  fetch("/", { headers: { accept: "application/json" } }).then((res) => res.json()).then((info) => {
    page = info.page;
    $("who").textContent = info.role + " pod " + info.servedBy;
    $("route").textContent = page.route;
    $("label").textContent = page.label;
    $("names").value = page.example;
    document.body.dataset.ready = "true";
  }, fail);
})();
`;

/** The page's own routes; GET / chooses between the page and the usage text (router.ts). */
export function pageRoutes() {
  return new Hono<AppEnv>()
    .get("/_page/app.js", (c) => c.body(PAGE_SCRIPT, 200, { "content-type": "text/javascript; charset=utf-8", ...SECURITY_HEADERS }))
    .get("/_page/style.css", (c) => c.body(PAGE_STYLE, 200, { "content-type": "text/css; charset=utf-8", ...SECURITY_HEADERS }))
    .get("/_page/icon.svg", (c) => c.body(PAGE_ICON, 200, { "content-type": "image/svg+xml", ...SECURITY_HEADERS }));
}

export function pageResponse(c: { body: (data: string, status: 200, headers: Record<string, string>) => Response }): Response {
  return c.body(PAGE_HTML, 200, { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS });
}
