import { describe, expect, it } from "vitest";
import type { SessionDetail, TimelineEvent } from "../../src/api";
import { describe as describeEvent, timelineRows } from "../../src/pages/Session";
import { snapshotStart, spanOf } from "../../src/replay/Player";

const event = (type: string, at: number, extra: Partial<TimelineEvent> = {}): TimelineEvent => ({
  event_id: `${type}-${at}`,
  type,
  timestamp: new Date(at).toISOString(),
  timestamp_ms: at,
  url: "https://shop.test/cart",
  path: "/cart",
  x: 0,
  y: 0,
  selector: "",
  text: "",
  error_message: "",
  metric_name: "",
  metric_value: 0,
  payload: null,
  ...extra,
});

const detail = (events: TimelineEvent[], insights: SessionDetail["insights"] = []): SessionDetail => ({
  session: {} as SessionDetail["session"],
  events,
  events_truncated: false,
  insights,
});

describe("timeline markers from events", () => {
  it("names what happened and never an input's value", () => {
    expect(describeEvent(event("click", 1, { text: "Buy now", selector: "#buy" }))).toEqual({ kind: "click", label: "Clicked “Buy now”" });
    expect(describeEvent(event("click", 1, { selector: "#buy" }))).toEqual({ kind: "click", label: "Clicked #buy" });
    expect(describeEvent(event("page_view", 1))).toEqual({ kind: "page", label: "Visited /cart" });
    expect(describeEvent(event("js_error", 1, { error_message: "boom" }))).toEqual({ kind: "error", label: "boom" });
    expect(describeEvent(event("input_change", 1, { selector: "#email", text: "secret@example.com" }))!.label).toBe("Typed in #email");
    expect(describeEvent(event("mouse_move", 1))).toBeNull();
  });

  it("merges events and insights in time order, insights marked by kind", () => {
    const rows = timelineRows(
      detail(
        [event("page_view", 1_000), event("click", 3_000, { selector: "#pay" }), event("scroll", 3_500), event("network_error", 4_000, { error_message: "502 /api/pay" })],
        [{ insight_id: "i1", type: "rage_click", timestamp: "", timestamp_ms: 3_200, url: "", path: "/cart", x: 0, y: 0, selector: "#pay", details: null }],
      ),
    );
    expect(rows.map((r) => [r.at, r.kind, r.label])).toEqual([
      [1_000, "page", "Visited /cart"],
      [3_000, "click", "Clicked #pay"],
      [3_200, "rage", "Rage click"],
      [4_000, "error", "502 /api/pay"],
    ]);
    expect(rows[2]!.insight).toBe("rage_click");
  });

  it("the replay's span and its first showable moment come from the rrweb events", () => {
    const events = [
      { type: 4, timestamp: 100, data: {} },
      { type: 2, timestamp: 130, data: {} },
      { type: 3, timestamp: 900, data: {} },
    ];
    expect(spanOf(events)).toBe(800);
    expect(spanOf([])).toBe(0);
    expect(snapshotStart(events)).toBe(31);
    expect(snapshotStart([{ type: 3, timestamp: 5, data: {} }])).toBe(0);
  });
});
