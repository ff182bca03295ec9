import type { MousePosition } from "../gen/gosight/wire";
import { EVENT_TYPE_MOUSE_MOVE } from "../gen/gosight/wire";
import { viewport } from "../page";
import type { Tracker } from "../tracker";
import { now, on } from "../util";

/** Mouse positions sampled every `interval` ms, sent `max` at a time or 2 s after the first. */
export function captureMouse(t: Tracker, interval = 50, max = 20): () => void {
  let positions: MousePosition[] = [];
  let first = 0;
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(timer);
    if (positions.length) t.emit(EVENT_TYPE_MOUSE_MOVE, { mouseMove: { positions, ...viewport() } }, first);
    positions = [];
  };
  const undo = [
    on(document, "mousemove", (e: MouseEvent) => {
      const n = now();
      if (n - last < interval) return;
      last = n;
      if (!positions.length) (first = n), (timer = setTimeout(flush, 2000));
      positions.push({ x: e.clientX, y: e.clientY, offsetMs: n - first });
      if (positions.length >= max) flush();
    }),
    on(document, "visibilitychange", flush),
    on(window, "pagehide", flush),
  ];
  return () => {
    flush();
    undo.forEach((f) => f());
  };
}
