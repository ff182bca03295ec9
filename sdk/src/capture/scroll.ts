import { EVENT_TYPE_PAGE_VIEW, EVENT_TYPE_SCROLL } from "../gen/gosight/wire";
import type { Tracker } from "../tracker";
import { on } from "../util";

/** Document scrolling, at most one event per `wait` ms, with the deepest point seen on the page. */
export function captureScroll(t: Tracker, wait = 250): () => void {
  let maxDepthPercent = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () => {
    timer = undefined;
    const documentHeight = document.documentElement.scrollHeight;
    const depth = Math.min(100, Math.round(((scrollY + innerHeight) / documentHeight) * 100));
    maxDepthPercent = Math.max(maxDepthPercent, depth);
    t.emit(EVENT_TYPE_SCROLL, {
      scroll: { scrollX, scrollY, viewportHeight: innerHeight, documentHeight, maxDepthPercent },
    });
  };
  const undo = [
    on(window, "scroll", (e: Event) => e.target === document && (timer ??= setTimeout(send, wait))),
    t.listen((e) => e.type === EVENT_TYPE_PAGE_VIEW && (maxDepthPercent = 0)),
  ];
  return () => {
    clearTimeout(timer);
    undo.forEach((f) => f());
  };
}
