// End to end: the built script-tag bundle in real Chromium sends to the REAL `gosight ingest`, the
// REAL `gosight processor` writes to ClickHouse, and the test finds the session there. Needs the
// engines of scripts/services.sh (start them, then `source <(bash scripts/services.sh env)`) and a
// built `gosight` binary (GOSIGHT_BIN, or debug/gosight under CARGO_TARGET_DIR, default
// ~/.cache/gosight/target, as scripts/test.sh builds it). Everything it creates is named after a
// random suffix (PostgreSQL and ClickHouse databases, Kafka topics, consumer group), so runs in
// parallel do not collide; the databases are dropped afterwards, the topics stay.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IngestStub } from "./stub";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9092";
const CLICKHOUSE_URL = (process.env.CLICKHOUSE_URL ?? "http://127.0.0.1:8123").replace(/\/+$/, "");
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://gosight:gosight@127.0.0.1:5432/gosight";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const SECRET = "hunter2-secret-XYZ";
const poll = { timeout: 30_000, interval: 250 };
const execFileAsync = promisify(execFile);

function gosightBin(): string {
  if (process.env.GOSIGHT_BIN) return process.env.GOSIGHT_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? "", ".cache/gosight/target");
  return join(target, "debug/gosight");
}

/** A PostgreSQL client tool: on PATH, or in the newest /usr/lib/postgresql/<v>/bin. */
function pgTool(name: string): string {
  for (const v of ["17", "16", "15", "14", "13"]) {
    const p = `/usr/lib/postgresql/${v}/bin/${name}`;
    if (existsSync(p)) return p;
  }
  return name;
}

const suffix = randomBytes(4).toString("hex");
const DB = `test_e2e_${suffix}`;
const BIN = gosightBin();
const pg = new URL(DATABASE_URL);
const pgArgs = ["-h", pg.hostname || "127.0.0.1", "-p", pg.port || "5432", "-U", decodeURIComponent(pg.username || "gosight")];
const pgEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: decodeURIComponent(pg.password || "gosight") };
const testDbUrl = Object.assign(new URL(DATABASE_URL), { pathname: `/${DB}` }).toString();

/** The whole environment of every gosight process: nothing inherited but PATH. */
const baseEnv: Record<string, string> = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  KAFKA_BROKERS,
  CLICKHOUSE_URL,
  DATABASE_URL: testDbUrl,
  REDIS_URL,
  GOSIGHT_CLICKHOUSE__DATABASE: DB,
  GOSIGHT_KAFKA__PARTITIONS: "3",
  GOSIGHT_KAFKA__TOPICS__EVENTS_RAW: `e2e_${suffix}.events.raw`,
  GOSIGHT_KAFKA__TOPICS__REPLAY_CHUNKS: `e2e_${suffix}.replay.chunks`,
  GOSIGHT_KAFKA__TOPICS__EVENTS_ERRORS: `e2e_${suffix}.events.errors`,
  GOSIGHT_KAFKA__TOPICS__INSIGHTS: `e2e_${suffix}.insights`,
  GOSIGHT_LOG__LEVEL: "warn",
};
// An empty working directory, so no ./gosight.yaml is picked up.
const cwd = mkdtempSync(join(tmpdir(), "gosight-e2e-"));

async function gosight(...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(BIN, args, { env: baseEnv, cwd, timeout: 60_000 });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`gosight ${args.join(" ")} failed: ${err.message}\nstdout: ${err.stdout}\nstderr: ${err.stderr}`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Service {
  name: string;
  child: ChildProcess;
  /** The last 20 KB of its stdout and stderr, for failure messages. */
  output: string;
  exited: boolean;
}

function startService(name: string, env: Record<string, string>): Service {
  const child = spawn(BIN, [name], { env: { ...baseEnv, ...env }, cwd, stdio: ["ignore", "pipe", "pipe"] });
  const service: Service = { name, child, output: "", exited: false };
  const keep = (d: Buffer) => (service.output = (service.output + d.toString()).slice(-20_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  child.on("exit", (code, signal) => {
    service.exited = true;
    keep(Buffer.from(`\n[${name} exited: code ${code}, signal ${signal}]\n`));
  });
  return service;
}

async function waitReady(service: Service, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (service.exited) throw new Error(`gosight ${service.name} exited before it was ready:\n${service.output}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`gosight ${service.name} not ready at ${url} after ${timeoutMs} ms (last: ${last}):\n${service.output}`);
}

async function stopService(service: Service | undefined): Promise<void> {
  if (!service || service.exited) return;
  const exited = new Promise((resolve) => service.child.once("exit", resolve));
  service.child.kill("SIGTERM");
  const timer = setTimeout(() => service.child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Runs `sql` in the test's database (`inDb`), or in the default one (the test's may not exist). */
async function clickhouse(sql: string, inDb = true): Promise<string> {
  const res = await fetch(inDb ? `${CLICKHOUSE_URL}/?database=${DB}` : `${CLICKHOUSE_URL}/`, { method: "POST", body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse ${res.status} for ${sql}: ${text}`);
  return text;
}

async function rows<T>(sql: string): Promise<T[]> {
  const text = await clickhouse(`${sql} FORMAT JSONEachRow`);
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

let browser: Browser | undefined;
let ingest: Service | undefined;
let processor: Service | undefined;
let pgCreated = false;
let writeKey = "";
let endpoint = "";
const pages = new IngestStub(); // only serves the test page and the bundles, on its own origin

beforeAll(async () => {
  if (!existsSync(BIN)) {
    throw new Error(`gosight binary not found at ${BIN}: build it (cargo build -p gosight) or set GOSIGHT_BIN`);
  }
  const help = await gosight("--help");
  if (!/^\s+project\s/m.test(help)) throw new Error(`${BIN} is an old build (no \`project\` subcommand): rebuild it or set GOSIGHT_BIN`);
  if (!existsSync(new URL("../../dist/gosight.iife.js", import.meta.url))) throw new Error("dist/ is missing: run npm run build");

  await execFileAsync(pgTool("createdb"), [...pgArgs, DB], { env: pgEnv });
  pgCreated = true;
  await gosight("migrate");
  await gosight("user", "create", "--email", "e2e@example.com", "--password", "e2e-password-1", "--role", "admin");
  const created = await gosight("project", "create", "--name", "E2E", "--owner", "e2e@example.com");
  writeKey = /write_key:\s*(gs_\S+)/.exec(created)?.[1] ?? "";
  if (!writeKey) throw new Error(`no write_key in the output of gosight project create:\n${created}`);

  const [http, grpc, probe] = [await freePort(), await freePort(), await freePort()];
  ingest = startService("ingest", {
    GOSIGHT_INGEST__HTTP_LISTEN: `127.0.0.1:${http}`,
    GOSIGHT_INGEST__GRPC_LISTEN: `127.0.0.1:${grpc}`,
  });
  processor = startService("processor", {
    GOSIGHT_PROCESSOR__GROUP_ID: `e2e_${suffix}`,
    GOSIGHT_PROCESSOR__PROBE_LISTEN: `127.0.0.1:${probe}`,
    GOSIGHT_PROCESSOR__FLUSH_INTERVAL_MS: "200",
    GOSIGHT_PROCESSOR__SESSION_TIMEOUT_SECS: "3",
  });
  endpoint = `http://127.0.0.1:${http}`;
  await Promise.all([waitReady(ingest, `${endpoint}/ready`), waitReady(processor, `http://127.0.0.1:${probe}/ready`)]);

  await pages.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}, 90_000);

afterAll(async () => {
  const errors: unknown[] = [];
  const attempt = async (f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      errors.push(e);
    }
  };
  await attempt(async () => browser?.close());
  await attempt(() => pages.stop());
  await attempt(() => Promise.all([stopService(ingest), stopService(processor)]));
  await attempt(() => clickhouse(`DROP DATABASE IF EXISTS ${DB}`, false));
  if (pgCreated) await attempt(() => execFileAsync(pgTool("dropdb"), [...pgArgs, "--force", "--if-exists", DB], { env: pgEnv }));
  rmSync(cwd, { recursive: true, force: true });
  if (errors.length) throw new AggregateError(errors, "e2e cleanup failed");
}, 60_000);

/** The services' recent output, to read when an assertion fails. */
const logs = () => `\n--- ingest ---\n${ingest?.output}\n--- processor ---\n${processor?.output}`;

describe("GoSight SDK → ingest → Kafka → processor → ClickHouse", () => {
  it("stores clicks with outcomes, SPA page views, errors and replay, and never the typed secret", async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    page.on("pageerror", () => {}); // the page throws on purpose
    const url = pages.page(
      "/shop",
      `<button id="buy">Buy now</button>
       <p id="dead">Nothing happens here</p>
       <input id="secret" placeholder="secret" />
       <button id="boom">Crash</button>
       <div id="out"></div>
       <script>
         document.getElementById("buy").onclick = () => (document.getElementById("out").textContent = "added to cart");
         document.getElementById("boom").onclick = function crash() { throw new TypeError("e2e boom"); };
       </script>`,
      { projectKey: writeKey, endpoint, replay: "always", replayChunkMs: 500, flushInterval: 200, batchSize: 5 },
    );
    await page.goto(url);
    await page.click("#buy");
    await page.locator("#secret").pressSequentially(SECRET);
    await page.click("#dead"); // also blurs the input
    await page.evaluate(() => history.pushState({}, "", "/shop/cart"));
    await page.click("#boom");
    const sessionId = await page.evaluate(() => (window as any).GoSight.getSessionId() as string);
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const sid = `toUUID('${sessionId}')`;

    // Everything arrives while the page stays open (flush every 200 ms, replay chunk every 500 ms).
    type Count = { event_type: string; n: string };
    const counts = async () => new Map((await rows<Count>(`SELECT event_type, count() AS n FROM events FINAL WHERE session_id = ${sid} GROUP BY event_type`)).map((r) => [r.event_type, Number(r.n)]));
    await expect
      .poll(async () => {
        const c = await counts();
        return { page_view: c.get("page_view") ?? 0, click: c.get("click") ?? 0, click_outcome: c.get("click_outcome") ?? 0, js_error: c.get("js_error") ?? 0 };
      }, { ...poll, message: `events in ClickHouse${logs()}` })
      .toEqual({ page_view: 2, click: 3, click_outcome: 3, js_error: 1 });

    const views = await rows<{ path: string; url: string }>(`SELECT path, url FROM events FINAL WHERE session_id = ${sid} AND event_type = 'page_view' ORDER BY timestamp`);
    expect(views.map((v) => v.path)).toEqual(["/shop", "/shop/cart"]);
    const clicks = await rows<{ target_selector: string }>(`SELECT target_selector FROM events FINAL WHERE session_id = ${sid} AND event_type = 'click' ORDER BY timestamp`);
    expect(clicks.map((c) => c.target_selector)).toEqual(["#buy", "#dead", "#boom"]);
    const outcomes = await rows<{ payload: string }>(`SELECT payload FROM events FINAL WHERE session_id = ${sid} AND event_type = 'click_outcome' ORDER BY timestamp`);
    expect(outcomes.map((o) => JSON.parse(o.payload) as object)).toEqual([
      expect.objectContaining({ clickOutcome: expect.objectContaining({ domMutated: true }) }),
      expect.not.objectContaining({ clickOutcome: expect.objectContaining({ domMutated: true }) }),
      expect.anything(),
    ]);
    const [error] = await rows<{ error_message: string; error_type: string }>(`SELECT error_message, error_type FROM events FINAL WHERE session_id = ${sid} AND event_type = 'js_error'`);
    expect(error).toMatchObject({ error_message: expect.stringContaining("e2e boom"), error_type: "TypeError" });

    type Chunk = { chunk_index: number; has_full_snapshot: boolean | number; encoding: string; data: string };
    const chunks = async () => rows<Chunk>(`SELECT chunk_index, has_full_snapshot, encoding, base64Encode(data) AS data FROM replay_chunks FINAL WHERE session_id = ${sid} ORDER BY chunk_index`);
    await expect.poll(async () => (await chunks()).length, { ...poll, message: `replay chunks in ClickHouse${logs()}` }).toBeGreaterThanOrEqual(2);
    const stored = await chunks();
    expect(stored.map((c) => c.chunk_index)).toEqual(stored.map((_, i) => i));
    expect(Boolean(stored[0]!.has_full_snapshot)).toBe(true);
    const replay = stored.map((c) => {
      const raw = Buffer.from(c.data, "base64");
      return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString();
    });
    expect(replay.every((json) => Array.isArray(JSON.parse(json)))).toBe(true);
    expect(replay.some((json) => json.includes("added to cart")), "the replay holds the DOM change").toBe(true);

    type Session = { page_count: number; click_count: number; has_error: boolean | number; has_replay: boolean | number };
    await expect
      .poll(async () => {
        const [s] = await rows<Session>(`SELECT page_count, click_count, has_error, has_replay FROM sessions FINAL WHERE session_id = ${sid}`);
        return s && { pages: s.page_count >= 2, clicks: s.click_count >= 2, error: Boolean(s.has_error) };
      }, { ...poll, message: `sessions row in ClickHouse${logs()}` })
      .toEqual({ pages: true, clicks: true, error: true });

    // The secret was typed into an input, masked by default: it is in no stored event or replay chunk.
    const leaks = await rows<{ n: string }>(`SELECT count() AS n FROM events WHERE position(payload, '${SECRET}') > 0 OR position(target_text, '${SECRET}') > 0`);
    expect(Number(leaks[0]!.n)).toBe(0);
    const inputs = await rows<{ n: string }>(`SELECT count() AS n FROM events WHERE session_id = ${sid} AND event_type LIKE 'input%'`);
    expect(Number(inputs[0]!.n), "the input was captured (masked), so the check above means something").toBeGreaterThan(0);
    expect(replay.filter((json) => json.includes(SECRET))).toEqual([]);
    await context.close();
  });
});
