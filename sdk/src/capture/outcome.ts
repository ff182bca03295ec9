import { EVENT_TYPE_CLICK_OUTCOME, EVENT_TYPE_PAGE_VIEW } from "../gen/gosight/wire";
import { isEditable } from "../dom/target";
import type { Tracker } from "../tracker";
import { now, on } from "../util";

type Signal = "domMutated" | "navigated" | "scrolled" | "focusChanged";

interface OutcomeWatcher {
  /** Watches for clickOutcomeMs what the click caused, then sends EVENT_TYPE_CLICK_OUTCOME. */
  watch(clickEventId: string, target: Element): void;
  stop(): void;
}

/**
 * Click outcomes: DOM mutations, a navigation, a scroll anywhere, focus moving outside the clicked
 * element. When the page unloads, every open window closes at once as "navigated"; this listener is
 * registered at start, before the SDK's own pagehide handler that sends the last events.
 */
export function outcomeWatcher(t: Tracker): OutcomeWatcher {
  const open = new Set<() => void>();
  const stop = on(window, "pagehide", () => open.forEach((finish) => finish()));

  function watch(clickEventId: string, target: Element): void {
    const start = now();
    const seen: Record<Signal, boolean> = { domMutated: false, navigated: false, scrolled: false, focusChanged: false };
    let firstResponseMs = 0;
    const hit = (s: Signal) => {
      seen[s] = true;
      firstResponseMs ||= Math.max(1, now() - start);
    };
    const observer = new MutationObserver(() => hit("domMutated"));
    observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
    const undo = [
      on(document, "scroll", () => hit("scrolled")),
      on(document, "focusin", (e: FocusEvent) => !target.contains(e.target as Node) && hit("focusChanged")),
      t.listen((e) => e.type === EVENT_TYPE_PAGE_VIEW && hit("navigated")),
    ];
    const timer = setTimeout(finish, t.cfg.clickOutcomeMs);
    const unload = () => (hit("navigated"), finish());
    open.add(unload);

    function finish(): void {
      clearTimeout(timer);
      observer.disconnect();
      undo.forEach((f) => f());
      open.delete(unload);
      t.emit(EVENT_TYPE_CLICK_OUTCOME, {
        clickOutcome: { clickEventId, observedMs: now() - start, firstResponseMs, editableTarget: isEditable(target), ...seen },
      });
    }
  }

  return { watch, stop };
}
