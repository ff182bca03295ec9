import type { InputPayload } from "../gen/gosight/wire";
import { EVENT_TYPE_INPUT_BLUR, EVENT_TYPE_INPUT_CHANGE, EVENT_TYPE_INPUT_FOCUS } from "../gen/gosight/wire";
import { mayRevealValue } from "../dom/mask";
import { describeTarget } from "../dom/target";
import type { Tracker } from "../tracker";
import { cut, on } from "../util";

const FIELD = "input:not([type=hidden]),textarea,select";
const EVENTS = { change: EVENT_TYPE_INPUT_CHANGE, focusin: EVENT_TYPE_INPUT_FOCUS, focusout: EVENT_TYPE_INPUT_BLUR };

export function captureInputs(t: Tracker): () => void {
  const undo = Object.entries(EVENTS).map(([name, type]) =>
    on(document, name, (e: Event) => {
      const el = e.target;
      if (el instanceof HTMLElement && (el.matches(FIELD) || el.isContentEditable)) {
        t.emit(type, { input: inputPayload(el, t.pageUrl) });
      }
    }),
  );
  return () => undo.forEach((f) => f());
}

/** The value only when the field was unmasked on purpose (see mayRevealValue); its length always. */
export function inputPayload(el: HTMLElement, pageUrl: (url: string) => string): InputPayload {
  const field = el as HTMLInputElement;
  const raw = /^(checkbox|radio)$/.test(field.type) ? String(field.checked) : el.isContentEditable ? (el.textContent ?? "") : (field.value ?? "");
  const reveal = mayRevealValue(el, raw);
  return {
    target: describeTarget(el, pageUrl),
    value: reveal ? cut(raw, 1000) : "",
    masked: !reveal,
    valueLength: raw.length,
    inputType: field.type ?? "",
  };
}
