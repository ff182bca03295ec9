import type { StackFrame } from "../gen/gosight/wire";
import { EVENT_TYPE_JS_ERROR, EVENT_TYPE_RESOURCE_LOAD } from "../gen/gosight/wire";
import { scrub } from "../dom/mask";
import type { Tracker } from "../tracker";
import { cut, on, toText } from "../util";

const V8_FRAME = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/;
const GECKO_FRAME = /^(.*?)@(.*?):(\d+):(\d+)$/;

/** Frames of a V8 ("at f (file:1:2)") or Gecko/WebKit ("f@file:1:2") stack. */
export function parseStack(stack: string): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const line of stack.split("\n").slice(0, 50)) {
    const m = V8_FRAME.exec(line) ?? GECKO_FRAME.exec(line);
    if (m) frames.push({ function: m[1] ?? "", file: m[2], line: +m[3]!, column: +m[4]! });
  }
  return frames;
}

/** Uncaught errors, unhandled rejections, and elements (scripts, images, styles…) that failed to load. */
export function captureErrors(t: Tracker): () => void {
  const report = (error: unknown, fields: { message?: string; source?: string; line?: number; column?: number; unhandledRejection?: boolean }) => {
    const err = error instanceof Error ? error : undefined;
    const stack = err?.stack ?? "";
    t.emit(EVENT_TYPE_JS_ERROR, {
      jsError: {
        ...fields,
        message: scrub(cut(fields.message || err?.message || toText(error), 2000)),
        errorType: err?.name ?? "Error",
        source: t.requestUrl(fields.source ?? ""),
        stack,
        frames: parseStack(stack),
      },
    });
  };
  const undo = [
    on(window, "error", (e: ErrorEvent) => {
      const el = e.target;
      if (!(el instanceof Element)) {
        return report(e.error, { message: e.message, source: e.filename, line: e.lineno, column: e.colno });
      }
      const url = (el as HTMLImageElement).currentSrc || (el as HTMLScriptElement).src || (el as HTMLLinkElement).href || "";
      t.emit(EVENT_TYPE_RESOURCE_LOAD, { resourceLoad: { url: t.requestUrl(url), initiatorType: el.localName, failed: true } });
    }),
    on(window, "unhandledrejection", (e: PromiseRejectionEvent) => report(e.reason, { unhandledRejection: true })),
  ];
  return () => undo.forEach((f) => f());
}
