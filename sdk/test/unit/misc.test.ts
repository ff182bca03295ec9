import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { parseStack } from "../../src/capture/errors";
import * as GoSight from "../../src/client";
import { resolve } from "../../src/config";
import { stripQuery } from "../../src/page";
import { inSample, rageDetector } from "../../src/replay/controller";
import { uuid } from "../../src/util";
import { VERSION } from "../../src/version";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("helpers", () => {
  it("makes v4 UUIDs, also without crypto.randomUUID", () => {
    expect(uuid()).toMatch(UUID);
    vi.stubGlobal("crypto", { getRandomValues: (b: Uint8Array) => b.fill(0xff) });
    expect(uuid()).toBe("ffffffff-ffff-4fff-bfff-ffffffffffff");
    vi.stubGlobal("crypto", undefined);
    expect(uuid()).toMatch(UUID);
    vi.unstubAllGlobals();
  });

  it("strips all or named query parameters", () => {
    const url = "https://shop.example/p?token=1&utm_source=x#top";
    expect(stripQuery(url, false)).toBe(url);
    expect(stripQuery(url, true)).toBe("https://shop.example/p#top");
    expect(stripQuery(url, ["token"])).toBe("https://shop.example/p?utm_source=x#top");
  });

  it("parses V8 and Gecko stacks", () => {
    const v8 = "TypeError: x\n    at render (https://a.example/app.js:10:5)\n    at https://a.example/app.js:20:7";
    const gecko = "render@https://a.example/app.js:10:5\n@https://a.example/app.js:20:7";
    const frames = [
      { function: "render", file: "https://a.example/app.js", line: 10, column: 5 },
      { function: "", file: "https://a.example/app.js", line: 20, column: 7 },
    ];
    expect(parseStack(v8)).toEqual(frames);
    expect(parseStack(gecko)).toEqual(frames);
  });

  it("samples sessions by id, stably", () => {
    expect(inSample("00000000-0000-4000-8000-000000000000", 0.1)).toBe(true);
    expect(inSample("19999999-0000-4000-8000-000000000000", 0.1)).toBe(true);
    expect(inSample("1a000000-0000-4000-8000-000000000000", 0.1)).toBe(false);
    expect(inSample("ffffffff-0000-4000-8000-000000000000", 1)).toBe(true);
    const ids = Array.from({ length: 2000 }, uuid);
    expect(ids.filter((id) => inSample(id, 0.25)).length / 2000).toBeCloseTo(0.25, 1);
  });

  it("detects rage clicks: three within a second at one spot", () => {
    const click = (t: number, x: number) => ({ timestamp: { unixMs: t }, click: { x, y: 10 } });
    const rage = rageDetector();
    expect([rage(click(0, 10)), rage(click(300, 12)), rage(click(600, 11))]).toEqual([false, false, true]);
    const slow = rageDetector();
    expect([slow(click(0, 10)), slow(click(600, 10)), slow(click(1200, 10))]).toEqual([false, false, false]);
    const apart = rageDetector();
    expect([apart(click(0, 10)), apart(click(100, 200)), apart(click(200, 400))]).toEqual([false, false, false]);
  });

  it("fills defaults and requires the key and endpoint", () => {
    expect(resolve({ projectKey: "k", endpoint: "https://i.example//", batchSize: undefined })).toMatchObject({ endpoint: "https://i.example", batchSize: 10, flushInterval: 5000, replay: "off" });
    expect(() => resolve({ projectKey: "", endpoint: "x" })).toThrow();
  });

  it("keeps VERSION equal to package.json's", () => {
    expect(VERSION).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
  });
});

describe("public API", () => {
  it("never throws, whatever it is given", () => {
    expect(() => GoSight.track("before init")).not.toThrow();
    expect(() => GoSight.init(undefined as never)).not.toThrow();
    expect(() => GoSight.init({ projectKey: "", endpoint: "" })).not.toThrow();
    expect(() => GoSight.identify(null as never, { circular: globalThis })).not.toThrow();
    expect(() => GoSight.setConsent(null as never)).not.toThrow();
    expect(GoSight.getSessionId()).toBe("");
    expect(() => GoSight.stop()).not.toThrow();
  });
});
