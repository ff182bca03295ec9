// npm run bench: main-thread cost per captured event, in Chromium. Each scenario dispatches the
// same DOM events on a page without the SDK and on pages with it (replay off, replay on) and
// reports, per event, the extra time of
//   sync:  the dispatch itself (the SDK's listeners, what delays the page's own handlers);
//   total: all main-thread work until things settle (Chrome's TaskDuration): also the click
//          outcome observers, batching, protobuf encoding, gzip and sending.
import { type CDPSession, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { IngestStub } from "../test/browser/stub";

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
/** Events per scenario; errors are sent one request each, so fewer of them. */
const SCENARIOS = { click: 1000, input: 1000, mousemove: 1000, track: 1000, error: 200 };
type Scenario = keyof typeof SCENARIOS;
type Cost = { sync: number; total: number };

// About 1,000 elements, so that selectors and outcome observers work on a realistic DOM.
const BODY = `<main>${Array.from({ length: 100 }, (_, i) => `<section class="card"><h2>Item ${i}</h2><p>Text <b>${i}</b></p><ul><li>a</li><li>b</li><li>c</li></ul><button class="buy">Buy</button><input name="q${i}"/></section>`).join("")}</main>`;

/** In the page: dispatches `n` events of `scenario`, returns the ms it took. */
function dispatch([scenario, n]: [Scenario, number]): number {
  const button = document.querySelectorAll("button")[50]!;
  const input = document.querySelectorAll("input")[50]!;
  const gs = (window as unknown as { GoSight?: { track(name: string, p: object): void } }).GoSight;
  const one: Record<Scenario, (i: number) => void> = {
    click: (i) => button.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: i % 500, clientY: 100 })),
    input: () => input.dispatchEvent(new Event("change", { bubbles: true })),
    mousemove: (i) => document.dispatchEvent(new MouseEvent("mousemove", { clientX: i % 800, clientY: i % 600 })),
    track: (i) => gs?.track("bench", { i, plan: "pro" }),
    error: (i) => window.dispatchEvent(new ErrorEvent("error", { message: `bench ${i}`, error: new Error(`bench ${i}`) })),
  };
  const start = performance.now();
  for (let i = 0; i < n; i++) one[scenario](i);
  return performance.now() - start;
}

const stub = new IngestStub();
let browser: Awaited<ReturnType<typeof chromium.launch>>;

beforeAll(async () => {
  await stub.start();
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ARGS });
});
afterAll(async () => {
  await browser?.close();
  await stub.stop();
});

async function taskMs(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return metrics.find((m) => m.name === "TaskDuration")!.value * 1000;
}

/** Costs per scenario in ms; `options` null loads the page without the SDK. */
async function measure(name: string, options: Record<string, unknown> | null): Promise<Record<Scenario, Cost>> {
  const url = stub.page(`/bench/${name}`, BODY, { flushInterval: 200, ...options });
  const page = await browser.newPage();
  if (!options) await page.route("**/gosight.iife.js", (route) => route.fulfill({ body: "" }));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  await page.goto(url);
  await page.waitForTimeout(1500); // loaded, replay script fetched and full snapshot taken
  await page.evaluate(dispatch, ["click", 50] as [Scenario, number]); // warm-up
  await page.waitForTimeout(1500);
  const costs = {} as Record<Scenario, Cost>;
  for (const [scenario, n] of Object.entries(SCENARIOS) as [Scenario, number][]) {
    const before = await taskMs(cdp);
    const sync = await page.evaluate(dispatch, [scenario, n] as [Scenario, number]);
    await page.waitForTimeout(1500); // outcome windows closed, batches sent
    costs[scenario] = { sync, total: (await taskMs(cdp)) - before };
  }
  await page.close();
  return costs;
}

it("main-thread cost per captured event", async () => {
  const page = await measure("none", null);
  const core = await measure("core", {});
  const replay = await measure("replay", { replay: "always" });
  const us = (ms: number, n: number) => ((ms * 1000) / n).toFixed(1).padStart(9);
  const lines = (Object.entries(SCENARIOS) as [Scenario, number][]).map(([s, n]) => {
    const extra = (c: Record<Scenario, Cost>, k: keyof Cost) => us(c[s][k] - page[s][k], n);
    return `${s.padEnd(10)}${us(page[s].sync, n)}${extra(core, "sync")}${extra(core, "total")}${extra(replay, "sync")}${extra(replay, "total")}`;
  });
  console.log(
    [
      "µs per event; the SDK's columns are the extra over the same page without it",
      `${"event".padEnd(10)}${["page", "core", "core", "+replay", "+replay"].map((h) => h.padStart(9)).join("")}`,
      `${"".padEnd(10)}${["sync", "sync", "total", "sync", "total"].map((h) => h.padStart(9)).join("")}`,
      ...lines,
      "mousemove is sampled every 50 ms, so most moves return at once; each error is flushed in its own request.",
    ].join("\n"),
  );
  expect(core.click.sync).toBeGreaterThan(page.click.sync);
});
