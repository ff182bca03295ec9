// Before the end-to-end tests: the dashboard must be built (npm run build; `npm test` does it), and
// the SDK the test pages load is built here from ../sdk when its dist/ is missing.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dashboard = fileURLToPath(new URL("../../", import.meta.url));
const sdk = fileURLToPath(new URL("../../../sdk/", import.meta.url));

export default function setup(): void {
  if (!existsSync(`${dashboard}dist/index.html`)) throw new Error("dashboard dist/ is missing: run npm run build (npm test does)");
  if (existsSync(`${sdk}dist/gosight.iife.js`) && existsSync(`${sdk}dist/gosight-replay.js`)) return;
  const npm = (...args: string[]) => execFileSync("npm", args, { cwd: sdk, stdio: "inherit" });
  if (!existsSync(`${sdk}node_modules`)) npm("ci", "--no-audit", "--no-fund");
  npm("run", "build");
}
