import { EVENT_TYPE_CONSOLE_LOG, LOG_LEVEL_ERROR } from "../gen/gosight/wire";
import { scrub } from "../dom/mask";
import type { Tracker } from "../tracker";
import { cut, patch, safe, toText } from "../util";

/** console.error calls (opt-in: captureConsoleErrors). */
export function captureConsole(t: Tracker): () => void {
  const report = safe((args: unknown[]) =>
    t.emit(EVENT_TYPE_CONSOLE_LOG, {
      consoleLog: {
        level: LOG_LEVEL_ERROR,
        message: scrub(cut(args.map(toText).join(" "), 2000)),
        stack: new Error().stack?.split("\n").slice(3).join("\n") ?? "",
      },
    }),
  );
  return patch(console, "error", (original) =>
    function (this: Console, ...args: unknown[]) {
      report(args);
      return original.apply(this, args);
    },
  );
}
