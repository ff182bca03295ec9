import type { NavigationType } from "../gen/gosight/wire";
import {
  EVENT_TYPE_PAGE_VIEW,
  NAVIGATION_TYPE_BACK_FORWARD,
  NAVIGATION_TYPE_HASH_CHANGE,
  NAVIGATION_TYPE_LOAD,
  NAVIGATION_TYPE_POP_STATE,
  NAVIGATION_TYPE_PUSH_STATE,
  NAVIGATION_TYPE_RELOAD,
  NAVIGATION_TYPE_REPLACE_STATE,
} from "../gen/gosight/wire";
import type { Tracker } from "../tracker";
import { on, patch, safe } from "../util";

/** How the document was loaded, from the Navigation Timing entry. */
export function loadType(): NavigationType {
  const type = (performance.getEntriesByType?.("navigation")[0] as PerformanceNavigationTiming | undefined)?.type;
  return type === "reload" ? NAVIGATION_TYPE_RELOAD : type === "back_forward" ? NAVIGATION_TYPE_BACK_FORWARD : NAVIGATION_TYPE_LOAD;
}

/** A page view for the load, then one per SPA navigation that changed the URL. */
export function capturePageViews(t: Tracker): () => void {
  let url = location.href;
  t.emit(EVENT_TYPE_PAGE_VIEW, { pageView: { navigationType: loadType() } });
  const changed = safe((type: NavigationType) => {
    if (location.href === url) return; // replaceState of the same URL, or the hashchange after a popstate
    const previousUrl = t.pageUrl(url);
    // Chrome fires popstate before hashchange when only the fragment changed.
    const hashOnly = type === NAVIGATION_TYPE_POP_STATE && url.split("#")[0] === location.href.split("#")[0];
    const navigationType = hashOnly ? NAVIGATION_TYPE_HASH_CHANGE : type;
    url = location.href;
    t.emit(EVENT_TYPE_PAGE_VIEW, { pageView: { navigationType, previousUrl } });
  });
  const wrap =
    (type: NavigationType) =>
    (original: History["pushState"]): History["pushState"] =>
      function (this: History, ...args) {
        const result = original.apply(this, args);
        changed(type);
        return result;
      };
  const undo = [
    patch(history, "pushState", wrap(NAVIGATION_TYPE_PUSH_STATE)),
    patch(history, "replaceState", wrap(NAVIGATION_TYPE_REPLACE_STATE)),
    on(window, "popstate", () => changed(NAVIGATION_TYPE_POP_STATE)),
    on(window, "hashchange", () => changed(NAVIGATION_TYPE_HASH_CHANGE)),
  ];
  return () => undo.forEach((f) => f());
}
