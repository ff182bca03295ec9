import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "happy-dom" } },
      {
        // Real Chromium through playwright-core; needs `npm run build` first (npm test does it).
        test: { name: "browser", include: ["test/browser/**/*.test.ts"], environment: "node", testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false },
      },
      // npm run bench (prints a table; not part of npm test).
      { test: { name: "bench", include: ["bench/*.ts"], environment: "node", testTimeout: 300_000, hookTimeout: 60_000 } },
    ],
  },
});
