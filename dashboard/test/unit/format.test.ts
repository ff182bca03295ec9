import { describe, expect, it } from "vitest";
import { countryName, flag, fmtAgo, fmtClock, fmtDuration, fmtPercent, fmtVital, vitalRating } from "../../src/format";

describe("formatting", () => {
  it("durations read as the largest two units", () => {
    expect(fmtDuration(4_200)).toBe("4s");
    expect(fmtDuration(65_000)).toBe("1m 5s");
    expect(fmtDuration(300_000)).toBe("5m");
    expect(fmtDuration(3_725_000)).toBe("1h 2m");
    expect(fmtDuration(7_200_000)).toBe("2h");
  });

  it("the player clock pads seconds and shows hours only when needed", () => {
    expect(fmtClock(0)).toBe("0:00");
    expect(fmtClock(83_900)).toBe("1:23");
    expect(fmtClock(3_725_000)).toBe("1:02:05");
    expect(fmtClock(-50)).toBe("0:00");
  });

  it("relative times", () => {
    const now = 1_000_000_000;
    expect(fmtAgo(now - 2_000, now)).toBe("just now");
    expect(fmtAgo(now - 42_000, now)).toBe("42s ago");
    expect(fmtAgo(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(fmtAgo(now - 3 * 3_600_000, now)).toBe("3 h ago");
  });

  it("percentages keep a decimal only for small shares", () => {
    expect(fmtPercent(0.5)).toBe("50%");
    expect(fmtPercent(0.034)).toBe("3.4%");
    expect(fmtPercent(0)).toBe("0%");
  });

  it("countries as flags and names", () => {
    expect(flag("de")).toBe("🇩🇪");
    expect(flag("")).toBe("");
    expect(flag("DEU")).toBe("");
    expect(countryName("")).toBe("Unknown");
    expect(countryName("DE")).toMatch(/Germany|Deutschland/);
  });

  it("web vitals are rated by web.dev thresholds, CLS without a unit", () => {
    expect(vitalRating("LCP", 2_400)).toBe("good");
    expect(vitalRating("lcp", 3_000)).toBe("fair");
    expect(vitalRating("INP", 600)).toBe("poor");
    expect(vitalRating("CLS", 0.05)).toBe("good");
    expect(fmtVital("CLS", 0.12345)).toBe("0.123");
  });
});
