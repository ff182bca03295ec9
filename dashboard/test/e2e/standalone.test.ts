// End to end on standalone mode: one `gosight standalone` process (embedded bus and SQLite, no
// engine), the real SDK on a test shop in Debian's Chromium sending to it, then the dashboard it
// serves on the same address shows the session, its replay and its insights. Then the process is
// restarted on the same data directory and everything is still there. Screenshots go to
// test-artifacts/standalone-*.png.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "./sign-in";
import { Site } from "./site";
import { gosightBinary } from "./stack";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const DIST = fileURLToPath(new URL("../../dist", import.meta.url));
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "gosight-standalone-e2e-"));

interface Banner {
  base: string;
  password?: string;
  key?: string;
}

let child: ChildProcess | undefined;
let output = "";

/** Starts `gosight standalone` on a free port and reads its banner. */
function start(): Promise<Banner> {
  output = "";
  const proc = spawn(gosightBinary(), ["standalone", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GOSIGHT_API__DASHBOARD_DIR: DIST, GOSIGHT_LOG__LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  proc.stderr!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`no banner from gosight standalone:\n${text}${output}`)), 30_000);
    proc.on("exit", (code) => reject(new Error(`gosight standalone exited (${code}):\n${text}${output}`)));
    proc.stdout!.on("data", (d: Buffer) => {
      text += d.toString();
      const base = /dashboard\s+(http:\/\/\S+?)\/?\s/.exec(text)?.[1];
      if (!base || !/Settings|shown only now\)\s*\n[\s\S]*projectKey/.test(text)) return;
      clearTimeout(timer);
      resolve({ base, password: /\/ (\S+)\s+\(shown only now\)/.exec(text)?.[1], key: /projectKey: "([^"]+)"/.exec(text)?.[1] });
    });
  });
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  const proc = child;
  if (!proc || proc.exitCode !== null) return;
  proc.removeAllListeners("exit");
  await new Promise<void>((resolve) => {
    proc.on("exit", () => resolve());
    proc.kill(signal);
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let banner: Banner;
let password = "";
let projectId = "";
let sessionId = "";
let browser: Browser;
let site: Site;
let dash: Page;

async function api<T>(path: string, token: string): Promise<T> {
  const res = await fetch(`${banner.base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function token(): Promise<string> {
  const res = await fetch(`${banner.base}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "admin@gosight.local", password }) });
  return ((await res.json()) as { access_token: string }).access_token;
}

interface Detail {
  session: { has_replay: boolean; has_error: boolean };
  insights: { type: string }[];
}

async function sessionDetail(): Promise<Detail | undefined> {
  const res = await fetch(`${banner.base}/api/v1/projects/${projectId}/sessions/${sessionId}`, { headers: { authorization: `Bearer ${await token()}` } });
  return res.ok ? ((await res.json()) as Detail) : undefined;
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  banner = await start();
  password = banner.password!;
  site = new Site({ projectKey: banner.key, endpoint: banner.base, replay: "always", replayChunkMs: 500, flushInterval: 200, batchSize: 5 });
  await site.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const { projects } = await api<{ projects: { id: string }[] }>("/api/v1/projects", await token());
  projectId = projects[0]?.id ?? "";

  // A visitor: a working click, a dead one, a burst on the plan box, an error.
  const visitor = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  visitor.on("pageerror", () => {});
  await visitor.goto(site.url("/shop", "dana"));
  await pause(500);
  await visitor.click("#buy");
  await pause(400);
  await visitor.click("#dead");
  await pause(1500);
  const box = (await visitor.locator("#buy").boundingBox())!;
  for (let i = 0; i < 8; i++) await visitor.mouse.click(box.x + 10 + (i % 3), box.y + 10, { delay: 20 });
  await pause(600);
  await visitor.click("#boom");
  await pause(1500);
  sessionId = await visitor.evaluate(() => (window as unknown as { GoSight: { getSessionId(): string } }).GoSight.getSessionId());
  await visitor.context().close();
  let last = "";
  const deadline = Date.now() + 30_000;
  for (;;) {
    const d = await sessionDetail();
    const types = new Set(d?.insights.map((i) => i.type));
    if (d && d.session.has_replay && d.session.has_error && types.has("rage_click") && types.has("dead_click") && types.has("error_click")) break;
    last = JSON.stringify({ session: d?.session, insights: [...types] });
    if (Date.now() > deadline) throw new Error(`the visit is not in the API after 30 s: ${last}\n${output}`);
    await pause(500);
  }
  dash = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" })).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.stop();
  await stop("SIGTERM");
}, 30_000);

describe("standalone mode", () => {
  it("serves the dashboard, which shows the SDK's session with its replay and insights", async () => {
    await dash.goto(`${banner.base}/`);
    await dash.waitForURL(/\/login/);
    await signIn(dash, "admin@gosight.local", password, /\/overview$/, () => output);

    await dash.goto(`${banner.base}/p/${projectId}/sessions`);
    const row = dash.locator(`tbody tr[data-session="${sessionId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await dash.screenshot({ path: `${ARTIFACTS}standalone-sessions.png`, fullPage: true });

    await dash.goto(`${banner.base}/p/${projectId}/sessions/${sessionId}`);
    const frame = dash.frameLocator(".replay-root iframe");
    await frame.getByText("Buy now").waitFor({ timeout: 15_000 });
    const slider = dash.getByRole("slider", { name: "Replay position" });
    await expect.poll(async () => Number(await slider.getAttribute("aria-valuemax")), { timeout: 15_000 }).toBeGreaterThan(2000);
    await expect.poll(() => dash.getByTestId("event-list").textContent()).toContain("checkout exploded");
    await dash.screenshot({ path: `${ARTIFACTS}standalone-replay.png`, fullPage: true });

    await dash.goto(`${banner.base}/p/${projectId}/insights`);
    const groups = dash.getByTestId("insight-groups");
    await expect.poll(() => groups.textContent(), { timeout: 10_000 }).toMatch(/rage|Rage/);
    expect(await groups.locator(`a[href$="/sessions/${sessionId}"]`).count()).toBeGreaterThan(0);
    await dash.screenshot({ path: `${ARTIFACTS}standalone-insights.png`, fullPage: true });
  });

  it("keeps everything across a restart", async () => {
    await stop("SIGKILL");
    banner = await start();
    expect(banner.password, "no second admin").toBeUndefined();
    const d = await sessionDetail();
    expect(d?.session.has_replay).toBe(true);
    expect(new Set(d?.insights.map((i) => i.type))).toContain("rage_click");
    // A new port is a new origin for the browser: sign in again.
    await dash.goto(`${banner.base}/`);
    await dash.waitForURL(/\/login/);
    await signIn(dash, "admin@gosight.local", password, /\/overview$/, () => output);
    await dash.goto(`${banner.base}/p/${projectId}/sessions/${sessionId}`);
    await dash.frameLocator(".replay-root iframe").getByText("Buy now").waitFor({ timeout: 15_000 });
    await dash.screenshot({ path: `${ARTIFACTS}standalone-after-restart.png`, fullPage: true });
  });
});
