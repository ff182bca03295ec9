// The table-driven encoder must produce what the reference implementation (protobuf-es) decodes
// to the same message, byte for byte.
import { fromBinary, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventBatchSchema } from "../../src/gen/gosight/ingest_pb";
import { ReplayChunkSchema } from "../../src/gen/gosight/events_pb";
import * as wire from "../../src/gen/gosight/wire";
import { encode } from "../../src/wire";

const target: wire.TargetElement = {
  tag: "button",
  id: "buy",
  classes: ["btn", "", "btn-primary"],
  selector: "#buy",
  text: "Buy now – 10 €",
  href: "https://shop.example/cart",
  dataAttributes: { "data-testid": "buy", "data-empty": "" },
  role: "button",
};

const events: wire.Event[] = [
  { pageView: { navigationType: wire.NAVIGATION_TYPE_PUSH_STATE, previousUrl: "https://shop.example/" } },
  { click: { x: -5, y: 20, pageX: 10, pageY: 2020, viewportWidth: 1280, viewportHeight: 720, documentHeight: 4000, target, button: 0, detail: 2, selectedText: true } },
  { clickOutcome: { clickEventId: "c", observedMs: 1000, domMutated: true, firstResponseMs: 12, editableTarget: false } },
  { scroll: { scrollX: 0, scrollY: 900, viewportHeight: 720, documentHeight: 4000, maxDepthPercent: 41 } },
  { input: { target, value: "", masked: true, valueLength: 12, inputType: "password" } },
  { mouseMove: { positions: [{ x: 1, y: 2, offsetMs: 0 }, { x: 3, y: 4, offsetMs: 50 }], viewportWidth: 1280, viewportHeight: 720 } },
  { visibilityChange: { visible: false } },
  { jsError: { message: "boom", errorType: "TypeError", source: "app.js", line: 3, column: 7, stack: "TypeError: boom", frames: [{ function: "f", file: "app.js", line: 3, column: 7 }], unhandledRejection: true } },
  { networkError: { url: "https://api.example/x", method: "POST", status: 503, statusText: "Service Unavailable", durationMs: 40, initiator: wire.REQUEST_INITIATOR_XHR, errorMessage: "" } },
  { consoleLog: { level: wire.LOG_LEVEL_ERROR, message: "bad", stack: "at x" } },
  { webVitals: { name: wire.WEB_VITAL_NAME_CLS, value: 0.123456789, rating: wire.WEB_VITAL_RATING_NEEDS_IMPROVEMENT, delta: -0.5, metricId: "m" } },
  { pageLoad: { dnsMs: 1.5, connectMs: 2, ttfbMs: 80.25, domInteractiveMs: 300, domContentLoadedMs: 310, loadMs: 900, transferSize: 2 ** 40, navigationType: wire.NAVIGATION_TYPE_RELOAD } },
  { resourceLoad: { url: "https://cdn.example/a.js", initiatorType: "script", durationMs: 0, transferSize: 0, failed: true, status: 404 } },
  { custom: { name: "signup", properties: { plan: "pro", seats: "3" } } },
].map((payload, i) => ({
  eventId: `0190f3a2-6b1c-7cc0-8f00-00000000000${i}`,
  type: (i + 1) as wire.EventType,
  timestamp: { unixMs: 1763700000000 + i },
  page: { url: "https://shop.example/?q=1", path: "/", title: "Shop", referrer: "" },
  sequence: i + 1,
  ...payload,
}));

const batch: wire.EventBatch = {
  projectKey: "gs_live_x",
  session: {
    sessionId: "0190f3a2-6b1c-7cc0-8f00-0000000000aa",
    userId: "u1",
    anonymousId: "a1",
    device: { userAgent: "Mozilla/5.0", screenWidth: 1920, screenHeight: 1080, viewportWidth: 1280, viewportHeight: 720, devicePixelRatio: 1.5, language: "en-GB", timezone: "Europe/Berlin", touch: true },
    startedAt: { unixMs: 1763700000000 },
    sdkVersion: "0.1.0",
    userTraits: { plan: "pro", "ünïcode": "✓" },
  },
  events,
  sentAt: { unixMs: 1763700001000 },
};

describe("wire encoder", () => {
  it("encodes an EventBatch with every payload as protobuf-es does", () => {
    const bytes = encode(wire.EventBatch, batch);
    const reference = fromJson(EventBatchSchema, batch as unknown as JsonValue);
    expect(fromBinary(EventBatchSchema, bytes)).toEqual(reference);
    expect(bytes).toEqual(toBinary(EventBatchSchema, reference));
  });

  it("encodes a ReplayChunk with bytes", () => {
    const data = new Uint8Array([0x1f, 0x8b, 0, 255, 1]);
    const chunk: wire.ReplayChunk = {
      projectKey: "k",
      sessionId: "s",
      chunkIndex: 3,
      firstTimestamp: { unixMs: 1 },
      lastTimestamp: { unixMs: 2 },
      hasFullSnapshot: true,
      eventCount: 7,
      encoding: wire.REPLAY_ENCODING_GZIP_JSON,
      data,
      uncompressedSize: 1234,
    };
    const decoded = fromBinary(ReplayChunkSchema, encode(wire.ReplayChunk, chunk));
    expect(decoded.data).toEqual(data);
    expect(decoded).toMatchObject({ chunkIndex: 3, eventCount: 7, hasFullSnapshot: true, encoding: 2, uncompressedSize: 1234n });
  });

  it("omits zero values and writes negative int32 as ten-byte varints", () => {
    expect(encode(wire.Timestamp, { unixMs: 0 })).toEqual(new Uint8Array([]));
    expect(encode(wire.ClickPayload, { x: -1 })).toEqual(new Uint8Array([8, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1]));
    expect(fromBinary(EventBatchSchema, encode(wire.EventBatch, { events: [{ click: { x: 12.6, y: -3.2 } }] })).events[0]!.payload.value).toMatchObject({ x: 13, y: -3 });
  });
});
