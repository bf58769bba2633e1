#!/usr/bin/env node
// How long the web app's proof-of-work solver (web/src/pow/sha256.ts) takes in headless Chromium
// (Debian's, driven by playwright-core from web/node_modules), per difficulty. Issue 17 item 4:
// the default queue.pow-difficulty is tuned from these figures (docs/queue.md "Proof of work").
//   node bench/pow-solver.mjs [CHROMIUM]   (default /usr/bin/chromium; needs `npm ci` in web/)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { build } = await import(join(root, 'web/node_modules/esbuild/lib/main.js'));
const { chromium } = await import(join(root, 'web/node_modules/playwright-core/index.mjs'));
const bundle = await build({
  entryPoints: [join(root, 'web/src/pow/sha256.ts')],
  bundle: true,
  format: 'iife',
  globalName: 'Pow',
  write: false,
});
const scratch = mkdtempSync(join(tmpdir(), 'pow-solver-'));
process.env.XDG_CONFIG_HOME = scratch;
process.env.XDG_CACHE_HOME = scratch;
const browser = await chromium.launch({
  executablePath: process.argv[2] ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage();
await page.addScriptTag({ content: bundle.outputFiles[0].text });
const rows = await page.evaluate(() => {
  const out = [];
  for (const difficulty of [16, 17, 18, 20]) {
    const runs = difficulty >= 20 ? 8 : 16;
    let tried = 0;
    let ms = 0;
    for (let i = 0; i < runs; i++) {
      const id = (Math.random() * 2 ** 52).toString(16).padStart(16, '0') + i.toString(16).padStart(16, '0');
      const challenge = `pow1.42.7.${id}.1800000000000.${difficulty}.${'0'.repeat(64)}`;
      const t0 = performance.now();
      const nonce = Pow.solve(challenge, difficulty);
      ms += performance.now() - t0;
      tried += Number(nonce) + 1;
    }
    out.push({ difficulty, runs, meanMs: Math.round(ms / runs), hashesPerSecond: Math.round(tried / (ms / 1000)) });
  }
  return out;
});
await browser.close();
for (const r of rows) {
  console.log(`difficulty ${r.difficulty}: mean ${r.meanMs} ms over ${r.runs} challenges, ${r.hashesPerSecond} hashes/s`);
}
