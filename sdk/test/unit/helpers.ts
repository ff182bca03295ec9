import { fromBinary } from "@bufbuild/protobuf";
import { gunzipSync } from "node:zlib";
import { vi } from "vitest";
import { type Config, defaults } from "../../src/config";
import { EventBatchSchema } from "../../src/gen/gosight/ingest_pb";
import type { Item } from "../../src/transport/http";

export const config = (over: Partial<Config> = {}): Config => ({ ...defaults, projectKey: "gs_test", endpoint: "https://ingest.test", ...over });

export const batchItem = (...eventIds: string[]): Item => ({
  kind: "events",
  tries: 0,
  msg: { projectKey: "gs_test", session: { sessionId: "s1" }, events: eventIds.map((eventId) => ({ eventId, type: 15 })) },
});

/** A fetch mock answering from `statuses` (then 200), recording the event ids of each request. */
export function mockFetch(statuses: (number | "network" | [number, Record<string, string>])[] = []) {
  const calls: { url: string; ids: string[]; init: RequestInit }[] = [];
  const fn = vi.fn(async (url: string, init: RequestInit) => {
    let body = Buffer.from(init.body as Uint8Array);
    if ((init.headers as Record<string, string>)["Content-Encoding"] === "gzip") body = gunzipSync(body);
    calls.push({ url, init, ids: fromBinary(EventBatchSchema, body).events.map((e) => e.eventId) });
    const next = statuses.shift() ?? 200;
    if (next === "network") throw new TypeError("Failed to fetch");
    const [status, headers] = Array.isArray(next) ? next : [next, {}];
    return new Response(null, { status, headers });
  });
  return { fn: fn as unknown as typeof fetch, calls };
}

/** An in-memory stand-in for the IndexedDB queue. */
export function memoryStore() {
  const items: Item[] = [];
  return {
    items,
    put: vi.fn(async (add: Item[]) => void items.push(...add)),
    takeAll: vi.fn(async () => items.splice(0)),
  };
}

/** The first event id of each event batch. */
export const firstIds = (items: Item[]) => items.map((i) => (i.kind === "events" ? i.msg.events![0]!.eventId : ""));
