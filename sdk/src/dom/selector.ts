// A CSS selector that keeps pointing at the same element across page loads: anchored on a
// unique id or test/data attribute when one exists, tag names and :nth-of-type otherwise.
// Classes are left out: generated class names change with every build.

const DATA_ATTRIBUTES = ["data-testid", "data-test", "data-test-id", "data-cy", "data-qa", "data-id", "name"];
/** Ids that look generated (React's ":r1:", "ember123", leading digits) are not stable. */
const UNSTABLE_ID = /^\d|\d{3,}|:/;

const esc = (s: string): string => (typeof CSS !== "undefined" && CSS.escape ? CSS.escape(s) : s.replace(/[^\w-]/g, "\\$&"));

export function selector(el: Element): string {
  const parts: string[] = [];
  for (let e: Element | null = el; e; e = e.parentElement) {
    const anchor = anchorOf(e);
    if (anchor) return [anchor, ...parts].join(" > ");
    if (e.localName === "body" || e.localName === "html") return [e.localName, ...parts].join(" > ");
    parts.unshift(e.localName + nthOfType(e));
  }
  return parts.join(" > "); // detached element
}

function anchorOf(e: Element): string | undefined {
  const candidates = e.id && !UNSTABLE_ID.test(e.id) ? [`#${esc(e.id)}`] : [];
  for (const a of DATA_ATTRIBUTES) {
    const v = e.getAttribute(a);
    if (v) candidates.push(`${e.localName}[${a}="${esc(v)}"]`);
  }
  return candidates.find((s) => unique(e, s));
}

function unique(e: Element, s: string): boolean {
  try {
    return e.ownerDocument.querySelectorAll(s).length === 1;
  } catch {
    return false;
  }
}

function nthOfType(e: Element): string {
  // One native query instead of walking the siblings: cheaper for long lists.
  const same = e.parentElement?.querySelectorAll(`:scope > ${e.localName}`);
  return same && same.length > 1 ? `:nth-of-type(${Array.prototype.indexOf.call(same, e) + 1})` : "";
}
