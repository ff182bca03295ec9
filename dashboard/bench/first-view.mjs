// Time to a filled first view of the dashboard, as a returning user opens it: from navigation to
// the overview's counters and top pages drawn with the API's answers, in Debian's Chromium.
//
//   node bench/first-view.mjs --api http://127.0.0.1:8082 --email E --password P --project ID [--runs 20]
//
// Each run signs in through the API (not timed), puts the refresh token where the app keeps it,
// and opens /p/<project>/overview in a fresh browser context: "cold" with an empty cache, then
// "warm" reloads in the same context. Prints p50, p95 and max per kind.
import { chromium } from "playwright-core";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0 && process.argv[i + 1]) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
};
const api = arg("api", "http://127.0.0.1:8082");
const [email, password, project] = [arg("email"), arg("password"), arg("project")];
const runs = Number(arg("runs", "20"));
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

async function refreshToken() {
  const response = await fetch(`${api}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new Error(`login: ${response.status} ${await response.text()}`);
  return (await response.json()).refresh_token;
}

/** Opens the overview and waits until the counters and the top pages are drawn. */
async function open(page) {
  const started = performance.now();
  await page.goto(`${api}/p/${project}/overview`);
  await page.waitForFunction(() => {
    const value = document.querySelector(".stat .stat-value");
    const pages = [...document.querySelectorAll("h2, h3, .card-title")].find((h) => h.textContent === "Top pages");
    return value && /\d/.test(value.textContent ?? "") && pages;
  }, undefined, { timeout: 30_000 });
  return performance.now() - started;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return `p50 ${at(0.5).toFixed(0)} ms, p95 ${at(0.95).toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms`;
};

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ARGS });
const cold = [];
const warm = [];
try {
  for (let i = 0; i < runs; i++) {
    const token = await refreshToken();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await context.addInitScript((t) => {
      if (!sessionStorage.getItem("bench.seeded")) {
        localStorage.setItem("gosight.refresh_token", t);
        sessionStorage.setItem("bench.seeded", "1");
      }
    }, token);
    const page = await context.newPage();
    cold.push(await open(page));
    warm.push(await open(page));
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`first view, empty cache (${runs} runs): ${stats(cold)}`);
console.log(`first view, cached assets (${runs} runs): ${stats(warm)}`);
