// The real GoSight behind the end-to-end tests: `gosight migrate`, then `ingest`, `processor` and
// `api` (serving the built dashboard) as child processes, on free ports, against the engines of
// scripts/services.sh. Everything is named after a random suffix (PostgreSQL and ClickHouse
// databases, Kafka topics, consumer group) so runs in parallel do not collide; the databases are
// dropped at the end, the topics stay.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface StackInfo {
  apiUrl: string;
  ingestUrl: string;
  projectId: string;
  writeKey: string;
  email: string;
  password: string;
  clickhouseDb: string;
}

/** The `gosight` binary: GOSIGHT_BIN, else the debug build under CARGO_TARGET_DIR (as scripts/test.sh builds it). */
export function gosightBinary(): string {
  if (process.env.GOSIGHT_BIN) return process.env.GOSIGHT_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? "", ".cache/gosight/target");
  return join(target, "debug/gosight");
}

/** A PostgreSQL client program: from the newest /usr/lib/postgresql/<v>/bin, else PATH. */
function postgresTool(name: string): string {
  const versions = ["17", "16", "15", "14", "13"].map((v) => `/usr/lib/postgresql/${v}/bin/${name}`);
  return versions.find((p) => existsSync(p)) ?? name;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One `gosight <component>` child, with the tail of what it printed for failure messages. */
class Component {
  output = "";
  exited = false;
  private child: ChildProcess;

  constructor(
    readonly name: string,
    bin: string,
    env: Record<string, string>,
    cwd: string,
  ) {
    this.child = spawn(bin, [name], { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      keep(Buffer.from(`\n[${name} exited: code ${code}, signal ${signal}]\n`));
    });
  }

  /** Waits for `url` to answer 200 (a /ready probe). */
  async ready(url: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      if (this.exited) throw new Error(`gosight ${this.name} exited before it was ready:\n${this.output}`);
      try {
        const res = await fetch(url);
        if (res.ok) return;
        last = `${res.status} ${await res.text()}`;
      } catch (e) {
        last = String(e);
      }
      if (Date.now() > deadline) throw new Error(`gosight ${this.name} not ready at ${url} (last: ${last}):\n${this.output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    const force = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(force);
  }
}

export class Stack {
  private readonly suffix = randomBytes(4).toString("hex");
  readonly db = `test_dash_${this.suffix}`;
  private readonly bin = gosightBinary();
  private readonly cwd = mkdtempSync(join(tmpdir(), "gosight-dashboard-e2e-")); // no ./gosight.yaml here
  private readonly clickhouseUrl = (process.env.CLICKHOUSE_URL ?? "http://127.0.0.1:8123").replace(/\/+$/, "");
  private readonly pgUrl = new URL(process.env.DATABASE_URL ?? "postgres://gosight:gosight@127.0.0.1:5432/gosight");
  private components: Component[] = [];
  private pgCreated = false;

  /** The whole environment of every gosight process: nothing inherited but PATH. */
  private env(extra: Record<string, string> = {}): Record<string, string> {
    const t = `dash_${this.suffix}`;
    return {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092",
      CLICKHOUSE_URL: this.clickhouseUrl,
      DATABASE_URL: Object.assign(new URL(this.pgUrl), { pathname: `/${this.db}` }).toString(),
      REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      GOSIGHT_CLICKHOUSE__DATABASE: this.db,
      GOSIGHT_KAFKA__PARTITIONS: "2",
      GOSIGHT_KAFKA__TOPICS__EVENTS_RAW: `${t}.events.raw`,
      GOSIGHT_KAFKA__TOPICS__REPLAY_CHUNKS: `${t}.replay.chunks`,
      GOSIGHT_KAFKA__TOPICS__EVENTS_ERRORS: `${t}.events.errors`,
      GOSIGHT_KAFKA__TOPICS__INSIGHTS: `${t}.insights`,
      GOSIGHT_LOG__LEVEL: "warn",
      ...extra,
    };
  }

  private pg() {
    const u = this.pgUrl;
    const args = ["-h", u.hostname || "127.0.0.1", "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "gosight")];
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: decodeURIComponent(u.password || "gosight") };
    return { args, env };
  }

  private async cli(...args: string[]): Promise<string> {
    try {
      return (await run(this.bin, args, { env: this.env(), cwd: this.cwd, timeout: 60_000 })).stdout;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`gosight ${args.join(" ")} failed: ${err.message}\nstdout: ${err.stdout}\nstderr: ${err.stderr}`);
    }
  }

  /** Migrates, creates the user and the project, starts the components; `dashboardDir` is served by the API. */
  async start(dashboardDir: string): Promise<StackInfo> {
    if (!existsSync(this.bin)) throw new Error(`gosight binary not found at ${this.bin}: build it (cargo build -p gosight) or set GOSIGHT_BIN`);
    const pg = this.pg();
    await run(postgresTool("createdb"), [...pg.args, this.db], { env: pg.env });
    this.pgCreated = true;
    await this.cli("migrate");
    const email = "dash-e2e@example.com";
    const password = "dash-e2e-password-1";
    await this.cli("user", "create", "--email", email, "--password", password, "--role", "admin");
    const created = await this.cli("project", "create", "--name", "Shop", "--owner", email);
    const writeKey = /write_key:\s*(gs_\S+)/.exec(created)?.[1];
    const projectId = /project_id:\s*(\S+)/.exec(created)?.[1];
    if (!writeKey || !projectId) throw new Error(`no project id or write_key in the output of gosight project create:\n${created}`);

    const [http, grpc, probe, api] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const start = (name: string, extra: Record<string, string>) => {
      const c = new Component(name, this.bin, this.env(extra), this.cwd);
      this.components.push(c);
      return c;
    };
    const ingest = start("ingest", { GOSIGHT_INGEST__HTTP_LISTEN: `127.0.0.1:${http}`, GOSIGHT_INGEST__GRPC_LISTEN: `127.0.0.1:${grpc}` });
    const processor = start("processor", {
      GOSIGHT_PROCESSOR__GROUP_ID: `dash_${this.suffix}`,
      GOSIGHT_PROCESSOR__PROBE_LISTEN: `127.0.0.1:${probe}`,
      GOSIGHT_PROCESSOR__FLUSH_INTERVAL_MS: "200",
      GOSIGHT_PROCESSOR__SESSION_TIMEOUT_SECS: "20",
    });
    const apiServer = start("api", { GOSIGHT_API__LISTEN: `127.0.0.1:${api}`, GOSIGHT_API__DASHBOARD_DIR: dashboardDir });
    const ingestUrl = `http://127.0.0.1:${http}`;
    const apiUrl = `http://127.0.0.1:${api}`;
    await Promise.all([ingest.ready(`${ingestUrl}/ready`), processor.ready(`http://127.0.0.1:${probe}/ready`), apiServer.ready(`${apiUrl}/ready`)]);
    return { apiUrl, ingestUrl, projectId, writeKey, email, password, clickhouseDb: this.db };
  }

  /** The components' recent output, for failure messages. */
  logs(): string {
    return this.components.map((c) => `\n--- ${c.name} ---\n${c.output}`).join("");
  }

  async stop(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (f: () => Promise<unknown>) => f().catch((e: unknown) => errors.push(e));
    await attempt(() => Promise.all(this.components.map((c) => c.stop())));
    await attempt(() => fetch(`${this.clickhouseUrl}/`, { method: "POST", body: `DROP DATABASE IF EXISTS ${this.db}` }));
    if (this.pgCreated) {
      const pg = this.pg();
      await attempt(() => run(postgresTool("dropdb"), [...pg.args, "--force", "--if-exists", this.db], { env: pg.env }));
    }
    rmSync(this.cwd, { recursive: true, force: true });
    if (errors.length) throw new AggregateError(errors, "stopping the e2e stack failed");
  }
}
