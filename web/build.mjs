// Builds the web app into a directory the ticketing binary serves (`web.root`):
//   index.html            no-cache; references the hashed files below
//   assets/<name>-<hash>.js|css|svg   content-hashed, served with Cache-Control: immutable
//   (the icon is linked from index.html, so a browser never asks for /favicon.ico, which the
//   server does not serve)
// Usage: node build.mjs [--out DIR] [--dev]   (default out: dist/)
// No inline script or style anywhere: the server sends `Content-Security-Policy: default-src 'self'`.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : join(here, 'dist'));
const dev = args.includes('--dev');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

// The proof-of-work worker (a separate, same-origin script): built first so the app can name its
// hashed file.
const workerResult = await esbuild.build({
  entryPoints: { 'pow-worker': join(here, 'src/pow/worker.ts') },
  bundle: true,
  format: 'iife',
  target: ['es2022'],
  minify: !dev,
  entryNames: '[name]-[hash]',
  outdir: join(out, 'assets'),
  metafile: true,
  logLevel: 'warning',
});
const worker = Object.keys(workerResult.metafile.outputs).map((file) => basename(file)).find((f) => f.endsWith('.js'));
if (!worker) throw new Error('build produced no proof-of-work worker');

const result = await esbuild.build({
  entryPoints: { app: join(here, 'src/main.ts'), styles: join(here, 'src/styles.css') },
  define: { POW_WORKER_URL: JSON.stringify(`/assets/${worker}`) },
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: join(out, 'assets'),
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = outputs.find((f) => f.startsWith('app-') && f.endsWith('.js'));
const style = outputs.find((f) => f.startsWith('styles-') && f.endsWith('.css'));
if (!script || !style) throw new Error(`build produced no app script or stylesheet: ${outputs.join(', ')}`);

// The site icon: copied as it is under a name carrying its content's hash.
const iconSource = readFileSync(join(here, 'src/icon.svg'));
const icon = `icon-${createHash('sha256').update(iconSource).digest('hex').slice(0, 8).toUpperCase()}.svg`;
writeFileSync(join(out, 'assets', icon), iconSource);

const template = readFileSync(join(here, 'src/index.html'), 'utf8');
const html = template
  .replace('%APP_SCRIPT%', `/assets/${script}`)
  .replace('%APP_STYLE%', `/assets/${style}`)
  .replace('%APP_ICON%', `/assets/${icon}`);
if (/%APP_[A-Z]+%/.test(html)) throw new Error('index.html still has a placeholder after the build');
writeFileSync(join(out, 'index.html'), html);
console.log(`web app built into ${out}: ${[...outputs, worker, icon].join(', ')}`);
