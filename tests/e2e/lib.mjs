// Helpers for the browser tests: Debian's chromium driven by playwright-core (no browser
// download), conditions waited on with deadlines (never fixed sleeps), CSP and script errors
// collected per page so a scenario fails on them.
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const webDir = resolve(here, '../../web');
const requireFromWeb = createRequire(join(webDir, 'package.json'));
const { chromium } = requireFromWeb('playwright-core');
const axeSource = readFileSync(requireFromWeb.resolve('axe-core/axe.min.js'), 'utf8');

export const viewports = {
  phone: { width: 375, height: 812 },
  laptop: { width: 1280, height: 800 },
};

export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'e2e-chromium-'));
  process.env.XDG_CONFIG_HOME = join(profile, 'config');
  process.env.XDG_CACHE_HOME = join(profile, 'cache');
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

export class TestFailure extends Error {}

export function check(condition, message) {
  if (!condition) throw new TestFailure(message);
}

// Polls `probe` (sync or async; a truthy result ends the wait) until `timeoutMs`.
export async function waitFor(description, probe, timeoutMs = 5000, intervalMs = 25) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new TestFailure(`timed out after ${timeoutMs} ms waiting for ${description} (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs)); // the poll interval of a condition wait
  }
}

export function uniqueEmail(tag) {
  return `e2e-${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

export const password = 'e2e-password-123';

// A browser context in one language and width, with the page's problems recorded.
export async function newSession(browser, baseUrl, { lang = 'en', viewport = viewports.laptop } = {}) {
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport,
    locale: lang === 'ko' ? 'ko-KR' : 'en-US',
    deviceScaleFactor: 1,
    isMobile: viewport.width < 600,
    hasTouch: viewport.width < 600,
  });
  await context.addInitScript((chosen) => localStorage.setItem('lang', chosen), lang);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
  });
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  return {
    context,
    page,
    problems,
    assertClean() {
      check(problems.length === 0, `page problems: ${problems.join(' | ')}`);
    },
  };
}

// Signs up and in through the API from inside the page (same origin: the refresh cookie is set).
export async function signUpViaApi(page, email, name = 'E2E Fan') {
  return page.evaluate(
    async ({ email, password, name }) => {
      const json = { 'Content-Type': 'application/json' };
      const up = await fetch('/auth/signup', { method: 'POST', headers: json, body: JSON.stringify({ email, password, name }) });
      if (up.status !== 201 && up.status !== 409) throw new Error(`signup ${up.status}`);
      const login = await fetch('/auth/login', { method: 'POST', headers: json, body: JSON.stringify({ email, password }) });
      if (!login.ok) throw new Error(`login ${login.status}`);
      const body = await login.json();
      sessionStorage.setItem('accessToken', body.accessToken);
      return body.accessToken;
    },
    { email, password, name },
  );
}

// The seat map's test hooks (window.__seatMap): where a seat is, what the map shows for it.
export async function seatStatus(page, seatNo) {
  return page.evaluate((seat) => window.__seatMap?.status(seat) ?? null, seatNo);
}

export async function clickSeat(page, seatNo) {
  const point = await page.evaluate((seat) => window.__seatMap?.seatPoint(seat) ?? null, seatNo);
  check(point, `seat ${seatNo} is not on the map`);
  await page.locator('canvas.seat-canvas').click({ position: point });
}

// Seats this map shows as AVAILABLE in a section, picked at random so reruns on one database differ.
export async function availableSeats(page, section, count) {
  return page.evaluate(
    ({ section, count }) => {
      const free = [];
      for (let n = 1; n <= 2000; n += 1) {
        const seatNo = `${section}-${n}`;
        const status = window.__seatMap?.status(seatNo);
        if (status === null || status === undefined) break;
        if (status === 'AVAILABLE') free.push(seatNo);
      }
      for (let i = free.length - 1; i > 0; i -= 1) {
        const j = Math.floor(Math.random() * (i + 1));
        [free[i], free[j]] = [free[j], free[i]];
      }
      return free.slice(0, count);
    },
    { section, count },
  );
}

export async function waitForSeatMap(page, timeoutMs = 10_000) {
  await waitFor('the seat map to render', () => page.evaluate(() => typeof window.__seatMapRenderMs === 'number'), timeoutMs);
}

export async function axeScan(page) {
  const present = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!present) await page.evaluate(axeSource); // evaluated by the driver: not subject to the page's CSP
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, target: v.nodes[0]?.target }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
