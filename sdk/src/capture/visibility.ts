import { EVENT_TYPE_VISIBILITY_CHANGE } from "../gen/gosight/wire";
import type { Tracker } from "../tracker";
import { on } from "../util";

export const captureVisibility = (t: Tracker): (() => void) =>
  on(document, "visibilitychange", () =>
    t.emit(EVENT_TYPE_VISIBILITY_CHANGE, { visibilityChange: { visible: document.visibilityState === "visible" } }),
  );
