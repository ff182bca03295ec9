// Three builds, chosen by --mode (npm run build runs all):
//   esm    dist/esm/index.js: ES module for bundlers; the recorder is a lazily imported chunk.
//   iife   dist/gosight.iife.js: script-tag build exposing window.GoSight (the "core").
//   replay dist/gosight-replay.js: the recorder with rrweb, an ES module the IIFE imports lazily.
import { fileURLToPath } from "node:url";
import { defineConfig, type UserConfig } from "vite";

const src = (p: string) => fileURLToPath(new URL(`src/${p}`, import.meta.url));

const builds: Record<string, UserConfig["build"]> = {
  esm: {
    outDir: "dist/esm",
    lib: { entry: src("index.ts"), formats: ["es"], fileName: "index" },
    rolldownOptions: { external: ["@rrweb/record"] },
  },
  iife: {
    outDir: "dist",
    emptyOutDir: false,
    lib: { entry: src("index.ts"), formats: ["iife"], name: "GoSight", fileName: () => "gosight.iife.js" },
  },
  replay: {
    outDir: "dist",
    emptyOutDir: false,
    lib: { entry: src("replay/recorder.ts"), formats: ["es"], fileName: () => "gosight-replay.js" },
  },
};

export default defineConfig(({ mode }) => ({
  logLevel: "warn",
  // The script-tag build loads the recorder from a URL instead of a bundler chunk.
  resolve: mode === "iife" ? { alias: [{ find: /^\.\/load$/, replacement: src("replay/load-script.ts") }] } : {},
  build: { target: "es2020", sourcemap: true, ...builds[mode] },
}));
