// End to end: the built dashboard, served by the REAL `gosight api`, in Debian's Chromium, over
// data the REAL SDK sent from a test shop through the real ingest and processor. Needs the engines
// of scripts/services.sh (`eval "$(bash scripts/services.sh env)"`), a built `gosight` binary and
// `npm run build`. Screenshots go to test-artifacts/.
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "./sign-in";
import { Site } from "./site";
import { Stack, type StackInfo } from "./stack";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const DIST = fileURLToPath(new URL("../../dist", import.meta.url));
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
const TIME_ZONE = "America/New_York";

const stack = new Stack();
let info: StackInfo;
let site: Site;
let browser: Browser;
let dashContext: BrowserContext;
let dash: Page;
const seeded = { alice: "", bob: "" };

interface SessionRow {
  session_id: string;
  user_id: string;
  is_active: boolean;
  has_error: boolean;
  has_replay: boolean;
  page_count: number;
}

/** The API as the test user, outside the browser, to know when the seeded data is in. */
async function apiGet<T>(token: string, path: string): Promise<T> {
  const res = await fetch(`${info.apiUrl}/api/v1/projects/${info.projectId}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The last replay timestamp stored for a session (0 when none). */
async function replayEnd(token: string, session: string): Promise<number> {
  const res = await fetch(`${info.apiUrl}/api/v1/projects/${info.projectId}/sessions/${session}/replay`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) return 0;
  const lines = (await res.text()).split("\n").filter((l) => l.trim());
  return Math.max(0, ...lines.map((l) => (JSON.parse(l) as { last_timestamp_ms: number }).last_timestamp_ms));
}

async function signInToken(): Promise<string> {
  const res = await fetch(`${info.apiUrl}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: info.email, password: info.password }) });
  return ((await res.json()) as { access_token: string }).access_token;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until every value it answers is true (expect.poll works only inside a test). */
async function until(what: string, probe: () => Promise<Record<string, boolean>>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, boolean> | string = {};
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (Object.values(last).every(Boolean)) return;
    } catch (e) {
      last = String(e);
    }
    await pause(500);
  }
  throw new Error(`${what} not there after ${timeoutMs} ms: ${JSON.stringify(last)}${stack.logs()}`);
}

/** Alice shops, scrolls, goes to the cart and hits an error; Bob rage-clicks a plan on the pricing page. */
async function seed(): Promise<void> {
  const a = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  a.on("pageerror", () => {}); // the checkout button throws on purpose
  await a.goto(site.url("/shop", "alice"));
  await pause(500);
  await a.click("#buy");
  await pause(400);
  await a.click("#buy", { position: { x: 12, y: 12 } });
  await pause(400);
  await a.click("#dead");
  await pause(400);
  await a.mouse.wheel(0, 900);
  await pause(500);
  await a.evaluate(() => window.scrollTo(0, 0));
  await a.evaluate(() => history.pushState({}, "", "/shop/cart"));
  await pause(400);
  await a.click("#boom");
  await pause(300);
  // Something after the error, so the replay's end can be seen to reach past it.
  await a.mouse.move(200, 200, { steps: 5 });
  await a.mouse.move(400, 300, { steps: 5 });
  await pause(800);
  seeded.alice = await a.evaluate(() => (window as unknown as { GoSight: { getSessionId(): string } }).GoSight.getSessionId());

  const b = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await b.goto(site.url("/pricing", "bob"));
  await pause(400);
  const box = (await b.locator("#plan").boundingBox())!;
  for (let i = 0; i < 8; i++) await b.mouse.click(box.x + box.width / 2 + (i % 3), box.y + box.height / 2, { delay: 20 });
  await pause(1500);
  seeded.bob = await b.evaluate(() => (window as unknown as { GoSight: { getSessionId(): string } }).GoSight.getSessionId());

  const token = await signInToken();
  await until("the seeded data in the API", async () => {
    const { sessions } = await apiGet<{ sessions: SessionRow[] }>(token, "/sessions");
    const alice = sessions.find((s) => s.session_id === seeded.alice);
    const bob = sessions.find((s) => s.session_id === seeded.bob);
    const heat = await apiGet<{ grid: { cells: unknown[] } }>(token, "/heatmap?path=%2Fshop&device=desktop");
    const insights = await apiGet<{ insights: { type: string }[] }>(token, "/insights");
    // The replay test seeks to the error, so the stored replay must reach past it.
    const detail = await apiGet<{ events: { type: string; error_message: string; timestamp_ms: number }[] }>(token, `/sessions/${seeded.alice}`);
    const errorAt = Math.max(0, ...detail.events.filter((e) => (e.error_message ?? "").includes("checkout exploded")).map((e) => e.timestamp_ms));
    return {
      replayCoversError: errorAt > 0 && (await replayEnd(token, seeded.alice)) >= errorAt,
      alice: !!alice && alice.has_error && alice.has_replay && alice.page_count >= 2,
      bob: !!bob && bob.has_replay,
      heatmap: heat.grid.cells.length > 0,
      rage: insights.insights.some((i) => i.type === "rage_click"),
    };
  });
  await a.context().close();
  await b.context().close();
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  info = await stack.start(DIST);
  site = new Site({ projectKey: info.writeKey, endpoint: info.ingestUrl, replay: "always", replayChunkMs: 500, flushInterval: 200, batchSize: 5 });
  await site.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  await seed();
  dashContext = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: TIME_ZONE, colorScheme: "light" });
  dash = await dashContext.newPage();
}, 150_000);

afterAll(async () => {
  const errors: unknown[] = [];
  for (const f of [() => browser?.close(), () => site?.stop(), () => stack.stop()]) await Promise.resolve(f()).catch((e: unknown) => errors.push(e));
  if (errors.length) throw new AggregateError(errors, "e2e cleanup failed");
}, 60_000);

const open = (path: string) => dash.goto(`${info.apiUrl}${path}`);
const shot = (name: string) => dash.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
const projectUrl = (rest: string) => `/p/${info.projectId}${rest}`;

describe("dashboard against the real API", () => {
  it("signs in with Enter, refuses a wrong password, and shows the overview in the user's time zone", async () => {
    await open("/");
    await dash.waitForURL(/\/login/);
    await dash.getByLabel("Email").fill(info.email);
    await dash.getByLabel("Password").fill("not-the-password");
    await dash.getByLabel("Password").press("Enter");
    await expect.poll(() => dash.getByRole("alert").textContent()).toContain("wrong email or password");
    await signIn(dash, info.email, info.password, new RegExp(`${projectUrl("/overview")}$`));
    const sessions = dash.locator(".stat", { has: dash.locator(".stat-label", { hasText: /^Sessions$/ }) }).locator(".stat-value");
    await expect.poll(() => sessions.textContent(), { timeout: 10_000 }).toBe("2");
    expect(await dash.locator(".tz").textContent()).toBe(TIME_ZONE);
    await dash.locator(".chart canvas").first().waitFor();
    await shot("overview");

    const theme = dash.getByRole("button", { name: /^Theme/ });
    await theme.click(); // system → light
    await theme.click(); // light → dark
    expect(await dash.locator("html").getAttribute("data-theme")).toBe("dark");
    await shot("overview-dark");
    await theme.click(); // back to the system's (light here)
    expect(await dash.locator("html").getAttribute("data-theme")).toBe("light");
  });

  it("filters the sessions list", async () => {
    await open(projectUrl("/sessions"));
    const rows = dash.locator("tbody tr[data-session]");
    await expect.poll(() => rows.count()).toBe(2);
    await dash.getByLabel("Errors", { exact: true }).check();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute("data-session")).toBe(seeded.alice);
    expect(new URL(dash.url()).searchParams.get("has_error")).toBe("true");
    await shot("sessions-errors");
    await dash.getByLabel("Errors", { exact: true }).uncheck();
    await dash.getByLabel("URL contains").fill("pricing");
    await dash.getByLabel("URL contains").press("Enter");
    await expect.poll(async () => (await rows.count()) === 1 && (await rows.first().getAttribute("data-session"))).toBe(seeded.bob);
    await expect.poll(() => rows.first().textContent()).toContain("bob");
  });

  it("plays a replay, seeks on the timeline and from the event list, and links to a moment", async () => {
    await open(projectUrl(`/sessions/${seeded.alice}`));
    const slider = dash.getByRole("slider", { name: "Replay position" });
    const value = async () => Number(await slider.getAttribute("aria-valuenow"));
    const total = async () => Number(await slider.getAttribute("aria-valuemax"));
    await expect.poll(total, { timeout: 15_000 }).toBeGreaterThan(2500);
    const frame = dash.frameLocator(".replay-root iframe");
    await frame.getByText("Buy now").waitFor();
    expect(await frame.locator("#out").textContent()).toBe("");

    await dash.getByRole("button", { name: "Play" }).click();
    await expect.poll(value, { timeout: 5_000 }).toBeGreaterThan(600);
    await dash.getByRole("button", { name: "Pause" }).click();

    const box = (await slider.boundingBox())!;
    await dash.mouse.click(box.x + box.width * 0.95, box.y + box.height / 2);
    const end = await total();
    await expect.poll(value).toBeGreaterThan(end * 0.9);
    await expect.poll(() => frame.locator("#out").textContent()).toBe("added to cart");
    await shot("replay");

    await dash.mouse.click(box.x + 2, box.y + box.height / 2);
    await expect.poll(value).toBeLessThan(end * 0.05);
    await expect.poll(() => frame.locator("#out").textContent()).toBe("");

    // Jump to the error from the side panel: the clock shows the row's time.
    const errorRow = dash.getByTestId("event-list").locator("li", { hasText: "checkout exploded" }).first();
    const at = (await errorRow.locator(".ev-time").textContent())!;
    await errorRow.getByRole("button").click();
    await expect.poll(() => dash.getByTestId("clock").textContent()).toMatch(new RegExp(`^${at} /`));

    await open(projectUrl(`/sessions/${seeded.alice}?t=1500`));
    await expect.poll(value, { timeout: 15_000 }).toBeGreaterThanOrEqual(1400);
    expect(await value()).toBeLessThan(1700);
  });

  it("draws the click heatmap over the captured page, with scroll depth and top elements", async () => {
    await open(projectUrl("/heatmaps?path=%2Fshop&device=desktop"));
    const heat = dash.getByTestId("heatmap");
    await expect.poll(async () => Number(await heat.getAttribute("data-painted")), { timeout: 20_000 }).toBeGreaterThan(100);
    await dash.frameLocator(".heat-frame iframe").getByText("Buy now").waitFor({ timeout: 20_000 });
    await expect.poll(() => dash.locator(".elements").textContent()).toContain("#buy");
    await shot("heatmap");
    await dash.getByRole("button", { name: "Scroll depth" }).click();
    await dash.getByTestId("scroll-overlay").waitFor();
    await shot("heatmap-scroll");
  });

  it("shows a live session within 2 s of its first events, with its last action, and follows its replay", async () => {
    await open(projectUrl("/live"));
    await dash.getByText(/active now/).waitFor();
    const visitor = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const firstBatch = visitor.waitForResponse((r) => r.url().startsWith(`${info.ingestUrl}/v1/events`) && r.ok());
    await visitor.goto(site.url("/live", "carol"));
    await firstBatch;
    const sent = Date.now();
    const id = await visitor.evaluate(() => (window as unknown as { GoSight: { getSessionId(): string } }).GoSight.getSessionId());
    const row = dash.locator(`tr[data-session="${id}"]`);
    await row.waitFor({ timeout: 2_000 });
    const elapsed = Date.now() - sent;
    expect(elapsed, "ms from the first accepted batch to the row").toBeLessThan(2_000);

    await visitor.click("#hello");
    await expect.poll(() => row.getByTestId("live-action").textContent(), { timeout: 5_000 }).toContain("Say hello");
    await shot("live");

    // Following it: the replay streams in, up to the click's effect.
    await row.getByRole("link").click();
    await dash.locator(".live-badge").waitFor({ timeout: 20_000 });
    const replay = dash.frameLocator(".replay-root iframe");
    await replay.getByText("Say hello").waitFor({ timeout: 10_000 });
    await expect.poll(() => replay.locator("#said").textContent(), { timeout: 15_000 }).toBe("hello!");
    await shot("live-replay");
    await visitor.context().close();
  });

  it("lists insights and grouped errors with example sessions", async () => {
    await open(projectUrl("/insights?type=rage_click"));
    const group = dash.getByTestId("insight-groups").locator("li").first();
    await expect.poll(() => group.textContent()).toContain("/pricing");
    expect(await group.getByRole("link").first().getAttribute("href")).toBe(projectUrl(`/sessions/${seeded.bob}`));
    await shot("insights");

    await open(projectUrl("/errors"));
    const error = dash.getByTestId("error-groups").locator("li", { hasText: "checkout exploded" });
    await error.waitFor();
    expect(await error.getByRole("link").first().getAttribute("href")).toBe(projectUrl(`/sessions/${seeded.alice}`));
    await shot("errors");
  });

  it("shows a funnel from the shop to its cart, linkable", async () => {
    await open(projectUrl("/funnels"));
    await dash.getByLabel("Step 1", { exact: true }).fill("/shop");
    await dash.getByLabel("Step 2", { exact: true }).fill("/shop/cart");
    await dash.getByRole("button", { name: "+ Step" }).click();
    await dash.getByLabel("Step 3 kind").selectOption("event");
    await dash.getByLabel("Step 3", { exact: true }).fill("never-sent");
    await dash.getByRole("button", { name: "Show funnel" }).click();
    const funnel = dash.getByTestId("funnel");
    await expect.poll(() => funnel.locator("li").allTextContents(), { timeout: 10_000 }).toEqual(["1. /shop1 session · 100%", "2. /shop/cart1 session · 100% · 100% of step 1", "3. never-sent0 sessions · 0% · 0% of step 2"]);
    await shot("funnels");
    // The URL holds the funnel: opening it again shows the same.
    const url = dash.url();
    await open("/");
    await dash.goto(url);
    await expect.poll(() => funnel.locator("li").count()).toBe(3);
  });

  it("creates an alert rule and a write key shown once, then revokes the key", async () => {
    await open(projectUrl("/alerts"));
    await dash.getByRole("button", { name: "New alert rule" }).click();
    await dash.getByLabel("Name", { exact: true }).fill("Checkout errors");
    await dash.getByLabel("Threshold", { exact: true }).fill("3");
    await dash.getByRole("button", { name: "+ Webhook" }).click();
    await dash.getByLabel("Webhook URL").fill("https://hooks.example.com/gosight");
    await dash.getByLabel("Name", { exact: true }).press("Enter");
    const rules = dash.getByTestId("alert-rules");
    await expect.poll(() => rules.textContent()).toContain("JavaScript errors > 3 in 5m");
    expect(await rules.textContent()).toContain("Webhook https://hooks.example.com/gosight");
    await shot("alerts");

    await open(projectUrl("/settings"));
    await dash.getByLabel("Key name").fill("staging");
    await dash.getByLabel("Key name").press("Enter");
    const secret = dash.getByTestId("new-key").locator("code");
    await expect.poll(() => secret.textContent()).toMatch(/^gs_/);
    const row = dash.getByTestId("keys").locator("tr", { hasText: "staging" });
    await expect.poll(() => row.textContent()).toContain("active");
    expect(await row.textContent()).not.toContain(await secret.textContent());
    await shot("settings");
    dash.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: "Revoke" }).click();
    await expect.poll(() => row.textContent()).toContain("revoked");
  });

  it("deletes a session from its page and erases a person's data from the settings", async () => {
    const token = await signInToken();
    const status = async (session: string) => (await fetch(`${info.apiUrl}/api/v1/projects/${info.projectId}/sessions/${session}`, { headers: { authorization: `Bearer ${token}` } })).status;
    // Once the processor has ended both visits, nothing writes their rows again.
    await until("the seeded sessions ended", async () => {
      const { sessions } = await apiGet<{ sessions: SessionRow[] }>(token, "/sessions");
      return Object.fromEntries([seeded.alice, seeded.bob].map((id) => [id, sessions.some((s) => s.session_id === id && !s.is_active)]));
    }, 45_000);

    await open(projectUrl(`/sessions/${seeded.bob}`));
    dash.once("dialog", (d) => void d.accept());
    await dash.getByRole("button", { name: "Delete session" }).click();
    await dash.waitForURL(new RegExp(`${projectUrl("/sessions")}$`));
    expect(await status(seeded.bob)).toBe(404);
    await dash.locator("tbody tr[data-session]").first().waitFor();
    expect(await dash.locator(`tbody tr[data-session="${seeded.bob}"]`).count()).toBe(0);

    await open(projectUrl("/settings"));
    await dash.getByLabel("Id to erase").fill("alice");
    dash.once("dialog", (d) => void d.accept());
    await dash.getByRole("button", { name: "Erase", exact: true }).click();
    await expect.poll(() => dash.getByRole("status").filter({ hasText: "Erased" }).textContent()).toBe("Erased 1 session of alice.");
    await shot("settings-erasure");
    expect(await status(seeded.alice)).toBe(404);
  });
});
