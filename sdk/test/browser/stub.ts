// A tiny HTTP server on 127.0.0.1 that serves test pages with the built SDK and records what the
// SDK sends, like the ingest would: protobuf bodies decoded with the generated (protobuf-es) types.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { type Event, type ReplayChunk, ReplayChunkSchema, ReplayEncoding } from "../../src/gen/gosight/events_pb";
import { EventAckSchema, type EventBatch, EventBatchSchema, ReplayAckSchema } from "../../src/gen/gosight/ingest_pb";

export interface Received {
  path: "/v1/events" | "/v1/replay";
  status: number;
  /** The project key from the X-GoSight-Key header, or from ?key= (sendBeacon). */
  key: string;
  beacon: boolean;
  /** The request body after undoing Content-Encoding: gzip. */
  raw: Buffer;
  batch?: EventBatch;
  chunk?: ReplayChunk;
  /** A replay chunk's rrweb events as JSON text, decompressed. */
  replayJson?: string;
}

const DIST = new URL("../../dist/", import.meta.url);

export class IngestStub {
  received: Received[] = [];
  /** GET paths requested, in order. */
  gets: string[] = [];
  /** Statuses that the next /v1/events requests get before the normal 200. */
  failNext: number[] = [];
  private pages = new Map<string, string>();
  private server: Server = createServer((req, res) => {
    this.handle(req).then(
      ([status, type, body]) => res.writeHead(status, { "Content-Type": type }).end(body),
      (e: Error) => res.writeHead(500).end(String(e.stack)),
    );
  });
  origin = "";

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Serves `body` inside a page that loads the IIFE bundle and calls GoSight.init(options). */
  page(path: string, body: string, options: Record<string, unknown> = {}): string {
    const init = { projectKey: "gs_test", endpoint: this.origin, flushInterval: 200, ...options };
    this.pages.set(path, `<!doctype html><html><head><meta charset="utf-8"><title>GoSight test</title></head><body>
${body}
<script src="/gosight.iife.js"></script>
<script>GoSight.init(${JSON.stringify(init)});</script>
</body></html>`);
    return this.origin + path;
  }

  reset(): void {
    this.received = [];
    this.gets = [];
    this.failNext = [];
  }

  /** Event batches that were answered 200. */
  accepted(): EventBatch[] {
    return this.received.filter((r) => r.batch && r.status === 200).map((r) => r.batch!);
  }

  /** Events of accepted batches. */
  events(): Event[] {
    return this.accepted().flatMap((b) => b.events);
  }

  chunks(): ReplayChunk[] {
    return this.received.filter((r) => r.chunk).map((r) => r.chunk!);
  }

  private async handle(req: IncomingMessage): Promise<[number, string, string | Uint8Array]> {
    const url = new URL(req.url!, this.origin);
    const status = /^\/status\/(\d{3})$/.exec(url.pathname); // answers any method with that status
    if (status) return [Number(status[1]), "text/plain", "as asked"];
    if (req.method === "GET") {
      this.gets.push(url.pathname);
      const page = this.pages.get(url.pathname);
      if (page) return [200, "text/html", page];
      if (/^\/gosight[\w.-]*\.js$/.test(url.pathname)) return [200, "text/javascript", await readFile(new URL(url.pathname.slice(1), DIST))];
      return [404, "text/plain", "not found"];
    }
    const path = url.pathname;
    if (req.method !== "POST" || (path !== "/v1/events" && path !== "/v1/replay")) return [404, "text/plain", "not found"];
    // Like the ingest: the format and encoding come from the query (beacons) or the headers.
    const format = url.searchParams.get("format") ?? req.headers["content-type"];
    if (format !== "protobuf" && format !== "application/x-protobuf") return [415, "text/plain", `unsupported format ${format}`];
    let raw = Buffer.concat(await req.toArray());
    if ((url.searchParams.get("encoding") ?? req.headers["content-encoding"]) === "gzip") raw = gunzipSync(raw);
    const r: Received = {
      path,
      status: 200,
      key: String(req.headers["x-gosight-key"] ?? url.searchParams.get("key") ?? ""),
      beacon: url.searchParams.has("key"),
      raw,
    };
    this.received.push(r);
    if (path === "/v1/replay") {
      r.chunk = fromBinary(ReplayChunkSchema, raw);
      const data = Buffer.from(r.chunk.data);
      r.replayJson = (r.chunk.encoding === ReplayEncoding.GZIP_JSON ? gunzipSync(data) : data).toString();
      return [200, "application/x-protobuf", toBinary(ReplayAckSchema, create(ReplayAckSchema, { accepted: 1 }))];
    }
    r.batch = fromBinary(EventBatchSchema, raw);
    r.status = this.failNext.shift() ?? 200;
    const ack = r.status === 200 ? create(EventAckSchema, { accepted: r.batch.events.length }) : create(EventAckSchema);
    return [r.status, "application/x-protobuf", toBinary(EventAckSchema, ack)];
  }
}
