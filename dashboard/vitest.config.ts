import { defineConfig } from "vitest/config";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic" } },
  test: {
    maxWorkers: 2,
    projects: [
      {
        oxc: { jsx: { runtime: "automatic" } },
        test: { name: "unit", include: ["test/unit/**/*.test.{ts,tsx}"], environment: "happy-dom", setupFiles: ["test/unit/setup.ts"] },
      },
      {
        // The real API, ingest and processor with data seeded by the real SDK in Chromium; needs
        // the engines (scripts/services.sh), a built gosight binary and `npm run build` first.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
