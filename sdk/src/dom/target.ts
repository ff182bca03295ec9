import type { TargetElement } from "../gen/gosight/wire";
import { cut } from "../util";
import { PRIVATE, scrub } from "./mask";
import { selector } from "./selector";

const FIELD = "input,textarea,select";

/** Text fields and other elements that take typing. */
export function isEditable(el: Element): boolean {
  return (
    (el as HTMLElement).isContentEditable ||
    el.localName === "textarea" ||
    (el.localName === "input" && !/^(button|submit|reset|image|checkbox|radio|range|color|file)$/.test((el as HTMLInputElement).type))
  );
}

export function describeTarget(el: Element, stripUrl: (url: string) => string): TargetElement {
  const data: Record<string, string> = {};
  for (const a of Array.from(el.attributes)) {
    if (a.name.startsWith("data-") && !a.name.startsWith("data-gosight")) data[a.name] = cut(a.value, 100);
  }
  const href = el.closest("a[href]") as HTMLAnchorElement | null;
  return {
    tag: el.localName,
    id: el.id,
    classes: Array.from(el.classList).slice(0, 10),
    selector: selector(el),
    text: textOf(el),
    href: href ? stripUrl(href.href) : "",
    dataAttributes: data,
    role: roleOf(el),
  };
}

/** Visible text without masked parts, emails or card numbers, cut at 100 characters. */
function textOf(el: Element): string {
  if (el.matches(FIELD) || el.closest(PRIVATE)) return "";
  let text = "";
  if (el.querySelector(PRIVATE)) {
    const walker = el.ownerDocument.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n && text.length < 1000; n = walker.nextNode()) {
      if (!n.parentElement?.closest(PRIVATE)) text += ` ${n.nodeValue}`;
    }
  } else {
    text = cut(el.textContent ?? "", 1000);
  }
  return cut(scrub(text.replace(/\s+/g, " ").trim()), 100);
}

function roleOf(el: Element): string {
  const explicit = el.getAttribute("role");
  if (explicit) return explicit;
  const type = (el as HTMLInputElement).type;
  switch (el.localName) {
    case "a":
      return el.hasAttribute("href") ? "link" : "";
    case "button":
      return "button";
    case "select":
      return "combobox";
    case "textarea":
      return "textbox";
    case "input":
      return /^(checkbox|radio)$/.test(type) ? type : /^(button|submit|reset|image)$/.test(type) ? "button" : type === "range" ? "slider" : "textbox";
  }
  return (el as HTMLElement).isContentEditable ? "textbox" : "";
}
