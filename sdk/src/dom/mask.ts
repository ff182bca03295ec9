// Privacy rules shared by event capture and the replay recorder.

export const MASK = "[data-gosight-mask]";
export const BLOCK = "[data-gosight-block]";
const UNMASK = "[data-gosight-unmask]";
/** Elements whose text is never sent. */
export const PRIVATE = `${MASK},${BLOCK}`;

const EMAIL = /[^\s@<>()"]+@[^\s@<>()"]+\.[a-z]{2,}/gi;
/** 13 to 19 digits, optionally grouped by spaces or dashes: card-like numbers. */
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
/** Fields that hold secrets, by type, autocomplete hint or name. */
const SECRET_FIELD = /pass|email|e-mail|cc-|card|cvc|cvv|iban|one-time-code|ssn/i;

export const hasSensitiveText = (s: string): boolean => s.search(EMAIL) >= 0 || s.search(CARD) >= 0;

/** Replaces emails and card-like numbers in free text. */
export const scrub = (s: string): string => s.replace(EMAIL, "***").replace(CARD, "***");

export function isSecretField(el: Element): boolean {
  return ["type", "autocomplete", "name", "id"].some((a) => SECRET_FIELD.test(el.getAttribute(a) ?? ""));
}

/** A field value may be sent only when opted in with data-gosight-unmask and nothing looks secret. */
export function mayRevealValue(el: Element, value: string): boolean {
  return !!el.closest(UNMASK) && !el.closest(PRIVATE) && !isSecretField(el) && !hasSensitiveText(value);
}
