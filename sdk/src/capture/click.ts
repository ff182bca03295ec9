import { EVENT_TYPE_CLICK } from "../gen/gosight/wire";
import { describeTarget } from "../dom/target";
import { viewport } from "../page";
import type { Tracker } from "../tracker";
import { on } from "../util";
import { outcomeWatcher } from "./outcome";

/** A click on an icon inside a button is reported as a click on the button. */
const INTERACTIVE = "a,button,input,select,textarea,label,summary,[role=button],[role=link],[onclick]";

export function captureClicks(t: Tracker): () => void {
  const outcomes = outcomeWatcher(t);
  const off = on(document, "click", (e: MouseEvent) => {
    const node = e.composedPath?.()[0] ?? e.target;
    const hit = node instanceof Element ? node : (node as Node | null)?.parentElement;
    const el = hit?.closest(INTERACTIVE) ?? hit;
    if (!el) return;
    const id = t.emit(EVENT_TYPE_CLICK, {
      click: {
        x: e.clientX,
        y: e.clientY,
        pageX: e.pageX,
        pageY: e.pageY,
        ...viewport(),
        documentHeight: document.documentElement.scrollHeight,
        target: describeTarget(el, t.pageUrl),
        button: e.button,
        detail: e.detail,
        selectedText: getSelection()?.isCollapsed === false,
      },
    });
    outcomes.watch(id, el);
  });
  return () => {
    off();
    outcomes.stop();
  };
}
