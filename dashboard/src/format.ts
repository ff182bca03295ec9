// Formatting in the user's locale and time zone.

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const number = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export const fmtDateTime = (v: string | number | Date) => dateTime.format(new Date(v));
export const fmtTime = (v: string | number | Date) => timeOnly.format(new Date(v));
export const fmtNumber = (n: number) => number.format(n);
export const fmtCompact = (n: number) => (Math.abs(n) >= 10_000 ? compact.format(n) : number.format(n));
export const fmtPercent = (r: number) => `${(r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0)}%`;

/** 3725000 → "1h 2m", 65000 → "1m 5s", 300000 → "5m", 4200 → "4s". */
export function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  return m % 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${Math.floor(m / 60)}h`;
}

/** Player clock: 83000 → "1:23". */
export function fmtClock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** "5 min ago" style, for live views. */
export function fmtAgo(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

const regionNames = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(undefined, { type: "region" }) : undefined;

export function countryName(code: string): string {
  if (!code) return "Unknown";
  try {
    return regionNames?.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** Regional-indicator flag for a two-letter code. */
export function flag(code: string): string {
  if (!/^[a-z]{2}$/i.test(code)) return "";
  return String.fromCodePoint(...[...code.toUpperCase()].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

export const vitalUnit = (name: string) => (name.toUpperCase() === "CLS" ? "" : " ms");
export const fmtVital = (name: string, v: number) => (name.toUpperCase() === "CLS" ? v.toFixed(3) : fmtNumber(Math.round(v)));

/** Web vitals thresholds (good / needs improvement), per web.dev. */
export const VITAL_THRESHOLDS: Record<string, [number, number]> = {
  LCP: [2500, 4000],
  INP: [200, 500],
  FID: [100, 300],
  CLS: [0.1, 0.25],
  FCP: [1800, 3000],
  TTFB: [800, 1800],
};

export function vitalRating(name: string, v: number): "good" | "fair" | "poor" {
  const t = VITAL_THRESHOLDS[name.toUpperCase()];
  if (!t) return "good";
  return v <= t[0] ? "good" : v <= t[1] ? "fair" : "poor";
}
