import type * as RecorderModule from "./recorder";

// Evaluated while the SDK's <script> runs, so currentScript is that script.
const base = (document.currentScript as HTMLScriptElement | null)?.src || location.href;

/** Script-tag build: gosight-replay.js, an ES module next to the SDK script unless `url` says otherwise. */
export const loadRecorder = (url: string): Promise<typeof RecorderModule> =>
  import(/* @vite-ignore */ url || new URL("gosight-replay.js", base).href);
