import { defineConfig } from "vite";

// `npm run dev` serves the app on :5173 and forwards /api (REST and the live WebSocket) to the
// API, `GOSIGHT_API_URL` or http://127.0.0.1:8082. `npm run build` writes dist/, which
// `gosight api` serves (api.dashboard_dir).
const api = process.env.GOSIGHT_API_URL ?? "http://127.0.0.1:8082";

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist",
    target: "es2022",
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: { "/api": { target: api, ws: true, changeOrigin: true } },
  },
});
