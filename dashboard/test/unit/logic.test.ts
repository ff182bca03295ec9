import { describe, expect, it } from "vitest";
import type { ApiKey } from "../../src/api";
import { qs } from "../../src/api";
import { replayOptions, snippet } from "../../src/components/SdkSnippet";
import { applyLive, type LiveMessage } from "../../src/live";
import { describeCondition, ruleInput } from "../../src/pages/Alerts";
import { deviceOf } from "../../src/pages/Heatmaps";
import { fillSeries } from "../../src/pages/Overview";
import { domainsFrom, thresholdsFrom } from "../../src/pages/Settings";
import { keyState } from "../../src/pages/SettingsAccess";

describe("query strings", () => {
  it("leaves out empty values and encodes the rest", () => {
    expect(qs({ path: "/a b", has_error: true, cursor: "", user_id: null, limit: 50, device: undefined })).toBe("?path=%2Fa+b&has_error=true&limit=50");
    expect(qs({ cursor: "" })).toBe("");
  });
});

describe("SDK snippet", () => {
  it("maps the project's replay settings to SDK options", () => {
    expect(replayOptions(undefined)).toEqual({ replay: "always" });
    expect(replayOptions({ mode: "off", sampling: 0.5 })).toEqual({ replay: "off" });
    expect(replayOptions({ mode: "on_error" })).toEqual({ replay: "trigger" });
    expect(replayOptions({ mode: "always", sampling: 0.25 })).toEqual({ replay: "sampled", replaySampleRate: 0.25 });
  });

  it("holds the key and the endpoint", () => {
    const text = snippet("gs_abc", "https://ingest.test", { mode: "always", sampling: 0.1 });
    expect(text).toContain('projectKey: "gs_abc"');
    expect(text).toContain('endpoint: "https://ingest.test"');
    expect(text).toContain('replay: "sampled"');
    expect(text).toContain("replaySampleRate: 0.1");
  });
});

describe("alert rules", () => {
  it("describes a condition in words", () => {
    expect(describeCondition({ metric: "js_errors", op: ">", threshold: 10, window_s: 300 })).toBe("JavaScript errors > 10 in 5m");
    expect(describeCondition({ metric: "error_session_rate", op: ">=", threshold: 0.25, window_s: 3600, path: "/pay" })).toBe("Share of sessions with errors >= 25% in 1h on /pay");
  });

  it("sends no empty path and a trimmed name", () => {
    const base = { name: "  Errors ", enabled: true, channels: [], cooldown_seconds: 60 };
    expect(ruleInput({ ...base, condition: { metric: "js_errors", op: ">", threshold: 1, window_s: 60, path: "  " } })).toEqual({ ...base, name: "Errors", condition: { metric: "js_errors", op: ">", threshold: 1, window_s: 60 } });
    expect(ruleInput({ ...base, condition: { metric: "js_errors", op: ">", threshold: 1, window_s: 60, path: " /pay " } }).condition.path).toBe("/pay");
  });
});

describe("settings forms", () => {
  it("only thresholds that were filled in are sent, as numbers", () => {
    expect(thresholdsFrom({ rage_min_clicks: "4", rage_window_ms: "", thrash_min_speed_px_s: " 350.5 " })).toEqual({ rage_min_clicks: 4, thrash_min_speed_px_s: 350.5 });
  });

  it("allowed domains split on lines, commas and spaces, lower-cased, once each", () => {
    expect(domainsFrom("Shop.example.com\n*.example.com, shop.example.com\n\n")).toEqual(["shop.example.com", "*.example.com"]);
  });

  it("a key's state: revoked wins over expired, expired over active", () => {
    const key = { active: true, revoked_at: null, expires_at: null } as ApiKey;
    expect(keyState(key)).toBe("active");
    expect(keyState({ ...key, expires_at: "2000-01-01T00:00:00Z" })).toBe("expired");
    expect(keyState({ ...key, active: false, revoked_at: "2000-01-01T00:00:00Z", expires_at: "2000-01-01T00:00:00Z" })).toBe("revoked");
    expect(keyState({ ...key, active: false })).toBe("disabled");
  });
});

describe("overview series", () => {
  it("fills the buckets the API left out with zeros over the whole range", () => {
    const range = { from: "2026-01-01T00:30:00Z", to: "2026-01-01T04:00:00Z", bucket_seconds: 3600 };
    const filled = fillSeries([{ at: "2026-01-01T02:00:00Z", sessions: 3, page_views: 7, errors: 1 }, { at: "2026-01-01T03:00:00Z", sessions: 1, page_views: 1, errors: 0, rage_clicks: 2, dead_clicks: 5 }], range);
    expect(filled.map((p) => new Date(p.at).toISOString().slice(11, 16))).toEqual(["00:00", "01:00", "02:00", "03:00"]);
    expect(filled.map((p) => p.point.sessions)).toEqual([0, 0, 3, 1]);
    expect(filled.map((p) => p.point.dead_clicks)).toEqual([0, 0, 0, 5]);
    expect(filled[2]!.point).toEqual({ sessions: 3, page_views: 7, errors: 1, rage_clicks: 0, dead_clicks: 0 });
  });
});

describe("live sessions", () => {
  const at = 1_700_000_000_000;
  it("a snapshot replaces the state; updates change one session", () => {
    const snapshot: LiveMessage = {
      type: "snapshot",
      sessions: [{ session_id: "s1", user_id: "ann", started_at: new Date(at).toISOString(), last_seen_at: new Date(at + 5_000).toISOString(), url: "/home", entry_url: "https://shop.test/home", page_count: 1, event_count: 3, country: "DE", device: "desktop", browser: "Firefox", has_error: false, has_rage_click: false }],
    };
    let state = applyLive(new Map(), snapshot, at);
    expect([...state.keys()]).toEqual(["s1"]);
    state = applyLive(state, { type: "page", session_id: "s1", url: "https://shop.test/cart?x=1", at_ms: at + 6_000 }, at + 6_000);
    expect(state.get("s1")).toMatchObject({ url: "/cart?x=1", page_count: 2, last_action: "Visited /cart?x=1" });
    const before = state;
    state = applyLive(state, { type: "action", session_id: "s1", event_type: "js_error", label: "boom", at_ms: at + 7_000 }, at + 7_000);
    expect(state.get("s1")).toMatchObject({ has_error: true, event_count: 4, last_action: "Error “boom”" });
    expect(before.get("s1")!.has_error).toBe(false);
    // Actions folded by the processor count as many as they stand for.
    state = applyLive(state, { type: "action", session_id: "s1", event_type: "click", label: "Buy", at_ms: at + 7_500, count: 3 }, at + 7_500);
    expect(state.get("s1")).toMatchObject({ event_count: 7, last_action: "Clicked “Buy”" });
    state = applyLive(state, { type: "insight", session_id: "s1", insight_type: "rage_click", url: "" }, at + 8_000);
    expect(state.get("s1")!.has_rage_click).toBe(true);
    state = applyLive(state, { type: "ended", session_id: "s1", duration_ms: 9_000, page_count: 2 }, at + 9_000);
    expect(state.get("s1")).toMatchObject({ ended: true, duration_ms: 9_000 });
  });

  it("a session first heard of by an update is added", () => {
    const state = applyLive(new Map(), { type: "started", session_id: "s2", url: "https://shop.test/", country: "FR", device: "mobile", browser: "Safari" }, at);
    expect(state.get("s2")).toMatchObject({ url: "/", country: "FR", device: "mobile", ended: false });
  });
});

describe("heatmap devices", () => {
  it("bucket viewport widths as the API does", () => {
    expect([390, 767, 768, 1023, 1024, 1920].map(deviceOf)).toEqual(["mobile", "mobile", "tablet", "tablet", "desktop", "desktop"]);
  });
});
