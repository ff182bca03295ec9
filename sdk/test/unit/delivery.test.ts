import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Event } from "../../src/gen/gosight/wire";
import { backoff, retryAfter } from "../../src/transport/backoff";
import { Batcher } from "../../src/transport/batcher";
import { Delivery } from "../../src/transport/delivery";
import { gzip } from "../../src/transport/gzip";
import type { Item } from "../../src/transport/http";
import type { OfflineQueue } from "../../src/transport/offline";
import { batchItem, config, firstIds, memoryStore, mockFetch } from "./helpers";

// CompressionStream works on zlib's thread pool, which fake timers cannot advance: the timing
// tests use zlib synchronously instead, and one test below checks the real gzip().
vi.mock("../../src/transport/gzip", async (original) => ({
  ...(await original()),
  gzip: vi.fn(async (data: Uint8Array) => new Uint8Array(gzipSync(data))),
}));

const session = (id = "s1") => ({ id, start: 1, last: 1, seq: 1, chunk: 0 });
const ev = (eventId: string): Event => ({ eventId });

function delivery(statuses: Parameters<typeof mockFetch>[0], over = {}) {
  const fetch = mockFetch(statuses);
  const store = memoryStore();
  const d = new Delivery(config(over), store as unknown as OfflineQueue, fetch.fn);
  return { d, fetch, store };
}

describe("Batcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const batcher = () => {
    const out: Item[] = [];
    const b = new Batcher(10, 5000, "k", (s) => ({ sessionId: s.id }), (i) => out.push(i));
    const ids = () => out.map((i) => (i.kind === "events" ? i.msg.events!.map((e) => e.eventId) : []));
    return { b, out, ids };
  };

  it("sends 10 events at once, fewer after 5 s", () => {
    const { b, ids } = batcher();
    for (let i = 0; i < 12; i++) b.add(session(), ev(`e${i}`), false);
    expect(ids()).toEqual([["e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"]]);
    vi.advanceTimersByTime(4999);
    expect(ids()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(ids()[1]).toEqual(["e10", "e11"]);
  });

  it("flushes urgent events (errors) at once and never mixes sessions", () => {
    const { b, out, ids } = batcher();
    b.add(session("a"), ev("1"), false);
    b.add(session("b"), ev("2"), false);
    b.add(session("b"), ev("3"), true);
    expect(ids()).toEqual([["1"], ["2", "3"]]);
    expect(out.map((i) => i.kind === "events" && i.msg.session?.sessionId)).toEqual(["a", "b"]);
  });
});

describe("Delivery", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("posts gzipped protobuf with the key header", async () => {
    const { d, fetch } = delivery([]);
    d.push(batchItem("a"));
    await vi.advanceTimersByTimeAsync(0);
    const { url, init, ids } = fetch.calls[0]!;
    expect(url).toBe("https://ingest.test/v1/events");
    expect(init).toMatchObject({ method: "POST", keepalive: true, credentials: "omit" });
    expect(init.headers).toEqual({ "Content-Type": "application/x-protobuf", "X-GoSight-Key": "gs_test", "Content-Encoding": "gzip" });
    expect(ids).toEqual(["a"]);
  });

  it("retries 5xx, 429 and network errors with backoff, in order, until one succeeds", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { d, fetch } = delivery([500, 429, "network"]);
    d.push(batchItem("a"));
    d.push(batchItem("b"));
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(499); // backoff(1) = 500 ms with no jitter
    expect(fetch.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000); // backoff(2)
    expect(fetch.calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(2000); // backoff(3), then "b" right away
    expect(fetch.calls.map((c) => c.ids)).toEqual([["a"], ["a"], ["a"], ["a"], ["b"]]);
  });

  it("waits as long as Retry-After says", async () => {
    const { d, fetch } = delivery([[503, { "Retry-After": "7" }]]);
    d.push(batchItem("a"));
    await vi.advanceTimersByTimeAsync(6999);
    expect(fetch.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch.calls).toHaveLength(2);
  });

  it("retries at once on Retry-After: 0", async () => {
    const { d, fetch } = delivery([[429, { "Retry-After": "0" }]]);
    d.push(batchItem("a"));
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch.calls.map((c) => c.ids)).toEqual([["a"], ["a"]]);
  });

  it("does not retry other 4xx answers", async () => {
    const { d, fetch, store } = delivery([400]);
    d.push(batchItem("a"));
    d.push(batchItem("b"));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch.calls.map((c) => c.ids)).toEqual([["a"], ["b"]]);
    expect(store.items).toEqual([]);
  });

  it("keeps a request for later after maxRetries failures", async () => {
    const { d, fetch, store } = delivery([500, 500, 500], { maxRetries: 2 });
    d.push(batchItem("a"));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch.calls).toHaveLength(3);
    expect(firstIds(store.items)).toEqual(["a"]);
  });

  it("queues offline and sends everything once when back online", async () => {
    const online = vi.spyOn(navigator, "onLine", "get").mockReturnValue(false);
    const { d, fetch, store } = delivery([]);
    d.push(batchItem("a"));
    d.push(batchItem("b"));
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls).toHaveLength(0);
    expect(store.items).toHaveLength(2);
    online.mockReturnValue(true);
    await d.drain();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls.map((c) => c.ids)).toEqual([["a"], ["b"]]);
    expect(store.items).toHaveLength(0);
  });

  it("beacons pending requests when the page hides, keeps failed ones for later", async () => {
    const sendBeacon = vi.fn(() => true);
    Object.defineProperty(navigator, "sendBeacon", { value: sendBeacon, configurable: true });
    const { d, fetch, store } = delivery([500]);
    d.push(batchItem("failed"));
    await vi.advanceTimersByTimeAsync(0); // "failed" now waits for its retry
    d.push(batchItem("fresh"));
    d.hide();
    expect(sendBeacon).toHaveBeenCalledOnce();
    expect(sendBeacon.mock.calls[0]).toMatchObject(["https://ingest.test/v1/events?key=gs_test&format=protobuf", expect.any(Blob)]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch.calls).toHaveLength(1); // no retry after hide: the failed one went to the store
    expect(firstIds(store.items)).toEqual(["failed"]);
  });
});

describe("backoff", () => {
  it("doubles up to 30 s with up to half of it random", () => {
    const random = vi.spyOn(Math, "random");
    random.mockReturnValue(0);
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((n) => backoff(n))).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    random.mockReturnValue(0.999999);
    expect(backoff(1)).toBeCloseTo(1000, 0);
    expect(backoff(10)).toBeCloseTo(30000, 0);
    random.mockRestore();
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const t = Date.parse("2025-11-21T10:00:00Z");
    expect(retryAfter("120", t)).toBe(120_000);
    expect(retryAfter("Fri, 21 Nov 2025 10:00:30 GMT", t)).toBe(30_000);
    expect(retryAfter("Fri, 21 Nov 2025 09:00:00 GMT", t)).toBe(0);
    expect(retryAfter("999999", t)).toBe(3_600_000);
    expect([retryAfter(null, t), retryAfter("soon", t)]).toEqual([undefined, undefined]);
  });
});

describe("gzip", () => {
  it("compresses with CompressionStream", async () => {
    const { gzip: real } = await vi.importActual<{ gzip: typeof gzip }>("../../src/transport/gzip");
    const data = new TextEncoder().encode("hello ".repeat(100));
    const zipped = (await real(data))!;
    expect(zipped.length).toBeLessThan(data.length / 10);
    expect(new Uint8Array(gunzipSync(zipped))).toEqual(data);
  });
});
