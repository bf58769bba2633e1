#!/usr/bin/env node
// Browser tests of the fans' web app (issue 15): node tests/e2e/run.mjs --base-url URL --out DIR
//   [--only TEXT[,TEXT...]] [--update-docs]
// Runs every scenario against a running server, prints one PASS/FAIL line per scenario with its
// time, writes DIR/results.json and DIR/screenshots/, exits non-zero on any failure.
// --update-docs copies every screenshot (each page, both languages, phone and laptop) into
// docs/screenshots/.
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from './lib.mjs';
import { scenarios } from './scenarios.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const baseUrl = option('--base-url', process.env.E2E_BASE_URL);
if (!baseUrl) {
  console.error('usage: node tests/e2e/run.mjs --base-url http://127.0.0.1:PORT --out DIR [--only TEXT] [--update-docs]');
  process.exit(2);
}
const outDir = resolve(option('--out', 'e2e-out'));
const only = option('--only', '').split(',').filter(Boolean); // scenarios whose name contains any
mkdirSync(outDir, { recursive: true });

const browser = await launchBrowser();
const notes = [];
const log = (line) => {
  notes.push(line);
  console.log(`  ${line}`);
};
const results = [];
let failed = 0;
for (const scenario of scenarios({ browser, baseUrl, outDir, log })) {
  if (only.length > 0 && !only.some((text) => scenario.name.includes(text))) continue;
  const started = Date.now();
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario deadline of ${scenario.timeoutMs} ms passed`)), scenario.timeoutMs);
  });
  try {
    const detail = await Promise.race([scenario.run(), deadline]);
    const ms = Date.now() - started;
    results.push({ name: scenario.name, ok: true, ms, detail });
    console.log(`PASS ${scenario.name} (${(ms / 1000).toFixed(1)} s)${detail ? ` — ${detail}` : ''}`);
  } catch (error) {
    failed += 1;
    const ms = Date.now() - started;
    results.push({ name: scenario.name, ok: false, ms, error: String(error?.message ?? error) });
    console.log(`FAIL ${scenario.name} (${(ms / 1000).toFixed(1)} s)\n  ${String(error?.message ?? error).split('\n').join('\n  ')}`);
  } finally {
    clearTimeout(timer);
  }
}
await browser.close();
writeFileSync(join(outDir, 'results.json'), JSON.stringify({ baseUrl, results, notes }, null, 2));

if (args.includes('--update-docs')) {
  const docs = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots');
  mkdirSync(docs, { recursive: true });
  // Every page in both languages at both widths (issue 15): about 1.7 MB of small JPEGs.
  const shots = join(outDir, 'screenshots');
  let copied = 0;
  for (const file of existsSync(shots) ? readdirSync(shots) : []) {
    if (!file.endsWith('.jpg')) continue;
    copyFileSync(join(shots, file), join(docs, file));
    copied += 1;
  }
  console.log(`copied ${copied} screenshots into ${docs}`);
}
console.log(`${results.length - failed}/${results.length} scenarios passed`);
process.exit(failed === 0 ? 0 : 1);
