import type { WebVitalName } from "../gen/gosight/wire";
import {
  EVENT_TYPE_WEB_VITALS,
  WEB_VITAL_NAME_CLS,
  WEB_VITAL_NAME_FCP,
  WEB_VITAL_NAME_INP,
  WEB_VITAL_NAME_LCP,
  WEB_VITAL_NAME_TTFB,
} from "../gen/gosight/wire";
import type { Tracker } from "../tracker";
import { on, safe, uuid } from "../util";

/** "Good" and "poor" thresholds of each metric, as web.dev defines them. */
const THRESHOLDS: Record<number, [number, number]> = {
  [WEB_VITAL_NAME_LCP]: [2500, 4000],
  [WEB_VITAL_NAME_INP]: [200, 500],
  [WEB_VITAL_NAME_CLS]: [0.1, 0.25],
  [WEB_VITAL_NAME_FCP]: [1800, 3000],
  [WEB_VITAL_NAME_TTFB]: [800, 1800],
};

type Entry = PerformanceEntry & { value?: number; hadRecentInput?: boolean; interactionId?: number };

/**
 * Core Web Vitals from PerformanceObserver, following the web-vitals library's definitions:
 * FCP and TTFB once, LCP, CLS and INP whenever the page is hidden and the value changed.
 */
export function captureVitals(t: Tracker): () => void {
  const sent: Record<number, number> = {};
  const ids: Record<number, string> = {};
  const report = (name: WebVitalName, value: number) => {
    const previous = sent[name];
    if (previous === value) return;
    sent[name] = value;
    const [good, poor] = THRESHOLDS[name]!;
    t.emit(EVENT_TYPE_WEB_VITALS, {
      webVitals: { name, value, delta: value - (previous ?? 0), rating: value <= good ? 1 : value <= poor ? 2 : 3, metricId: (ids[name] ??= uuid()) },
    });
  };
  const observers: PerformanceObserver[] = [];
  const observe = (type: string, fn: (entries: Entry[]) => void, options?: object) => {
    try {
      const o = new PerformanceObserver(safe((list: PerformanceObserverEntryList) => fn(list.getEntries())));
      o.observe({ type, buffered: true, ...options });
      observers.push(o);
      return true;
    } catch {
      return false; // entry type not supported by this browser
    }
  };

  const nav = performance.getEntriesByType?.("navigation")[0] as PerformanceNavigationTiming | undefined;
  if (nav) report(WEB_VITAL_NAME_TTFB, Math.max(nav.responseStart, 0));
  observe("paint", (es) => es.forEach((e) => e.name === "first-contentful-paint" && report(WEB_VITAL_NAME_FCP, e.startTime)));

  let lcp = 0;
  observe("largest-contentful-paint", (es) => (lcp = es[es.length - 1]!.startTime));

  // CLS: the largest burst of shifts less than 1 s apart and within 5 s, ignoring shifts after input.
  let cls = -1;
  let burst = 0;
  let burstStart = 0;
  let lastShift = 0;
  const hasCls = observe("layout-shift", (es) => {
    for (const e of es) {
      if (e.hadRecentInput) continue;
      const joins = burst && e.startTime - lastShift < 1000 && e.startTime - burstStart < 5000;
      burst = joins ? burst + e.value! : e.value!;
      if (!joins) burstStart = e.startTime;
      lastShift = e.startTime;
      cls = Math.max(cls, burst);
    }
  });
  if (hasCls) cls = Math.max(cls, 0);

  // INP: the longest interaction, skipping one per 50 interactions (about the 98th percentile).
  const interactions = new Map<number, number>();
  const onEvents = (es: Entry[]) =>
    es.forEach((e) => e.interactionId && interactions.set(e.interactionId, Math.max(interactions.get(e.interactionId) ?? 0, e.duration)));
  observe("event", onEvents, { durationThreshold: 40 });
  observe("first-input", onEvents);
  const inp = () => {
    const durations = [...interactions.values()].sort((a, b) => b - a);
    const count = (performance as { interactionCount?: number }).interactionCount ?? durations.length;
    return durations[Math.min(Math.floor(count / 50), durations.length - 1)];
  };

  const undo = on(document, "visibilitychange", () => {
    if (document.visibilityState !== "hidden") return;
    if (lcp) report(WEB_VITAL_NAME_LCP, lcp);
    if (cls >= 0) report(WEB_VITAL_NAME_CLS, cls);
    const i = inp();
    if (i !== undefined) report(WEB_VITAL_NAME_INP, i);
  });
  return () => {
    undo();
    observers.forEach((o) => o.disconnect());
  };
}
