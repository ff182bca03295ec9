import { EVENT_TYPE_PAGE_LOAD } from "../gen/gosight/wire";
import type { Tracker } from "../tracker";
import { on } from "../util";
import { loadType } from "./pageview";

/** Navigation timing of the full page load, sent once the load event finished. */
export function capturePageLoad(t: Tracker): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () => {
    const n = performance.getEntriesByType?.("navigation")[0] as PerformanceNavigationTiming | undefined;
    if (!n) return;
    t.emit(EVENT_TYPE_PAGE_LOAD, {
      pageLoad: {
        dnsMs: n.domainLookupEnd - n.domainLookupStart,
        connectMs: n.connectEnd - n.connectStart,
        ttfbMs: n.responseStart,
        domInteractiveMs: n.domInteractive,
        domContentLoadedMs: n.domContentLoadedEventEnd,
        loadMs: n.loadEventEnd,
        transferSize: n.transferSize,
        navigationType: loadType(),
      },
    });
  };
  // loadEventEnd is set only after the load handlers ran.
  const later = () => (timer = setTimeout(send, 0));
  if (document.readyState === "complete") {
    later();
    return () => clearTimeout(timer);
  }
  const undo = on(window, "load", later);
  return () => (undo(), clearTimeout(timer));
}
