// Gzipped sizes of the built bundles (npm run size builds first). Fails when the core, the
// script-tag bundle without replay, is over its 12 KB budget.
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const LIMIT = 12 * 1024;
const gz = (file) => gzipSync(readFileSync(new URL(`../dist/${file}`, import.meta.url)), { level: 9 }).length;
const esm = readdirSync(new URL("../dist/esm/", import.meta.url)).filter((f) => f.endsWith(".js"));

const rows = [
  ["core: gosight.iife.js (script tag, minified)", gz("gosight.iife.js")],
  ["replay: gosight-replay.js (lazy, rrweb included)", gz("gosight-replay.js")],
  ...esm.map((f) => [`esm/${f} (for bundlers; rrweb external)`, gz(`esm/${f}`)]),
];
for (const [name, size] of rows) console.log(`${(size / 1024).toFixed(2).padStart(7)} KB gzip  ${name}`);

const core = rows[0][1];
if (core > LIMIT) {
  console.error(`core is ${core} bytes gzipped, over the ${LIMIT}-byte budget`);
  process.exit(1);
}
console.log(`core: ${core} of ${LIMIT} bytes`);
