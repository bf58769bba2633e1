// The browser scenarios of issue 15's acceptance. Each gets its own deadline from run.mjs and
// waits on conditions; state that later scenarios reuse (the buyer, two fans on one schedule)
// is built once and shared.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  availableSeats, axeScan, check, clickSeat, newSession, password, seatStatus, signUpViaApi, uniqueEmail,
  viewports, waitFor, waitForSeatMap,
} from './lib.mjs';

const liveSchedule = 2; // the 10,000-seat demo schedule (sections A..T x 500)
const liveDeadlineMs = 1000; // a change in one browser shows in the other within this
const adminEmail = process.env.E2E_ADMIN_EMAIL ?? 'admin@example.com';
const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? 'admin-password-e2e';
const dashboardDeadlineMs = 2000; // issue 16: the admin's dashboard shows the sale within 2 s of PAID

// Signs the operator in through the API from inside the page (same origin: the refresh cookie is set).
async function signInAdminViaApi(page) {
  return page.evaluate(
    async ({ email, password }) => {
      const login = await fetch('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }) });
      if (!login.ok) throw new Error(`admin login ${login.status} (did scripts/e2e create ${email}?)`);
      const body = await login.json();
      sessionStorage.setItem('accessToken', body.accessToken);
      return body.accessToken;
    },
    { email: adminEmail, password: adminPassword },
  );
}

// A context exactly as a first-time visitor's: no stored language, no session; every console
// error, failed request and 4xx/5xx answer recorded (a page load must cause none of them).
async function freshVisitor(browser, baseUrl, options = {}) {
  const context = await browser.newContext({ baseURL: baseUrl, deviceScaleFactor: 1, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location()?.url ?? ''})`);
  });
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.request().method()} ${response.url()}`);
  });
  return { context, page, problems };
}

// An operator's API call from a page signed in as the operator.
async function adminApi(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const headers = { Accept: 'application/json', Authorization: `Bearer ${sessionStorage.getItem('accessToken')}` };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
      return text ? JSON.parse(text) : null;
    },
    { method, path, body },
  );
}

// Presses a button that opens the console's confirmation <dialog>, then confirms.
async function confirmThrough(page, button) {
  await button.click();
  const dialog = page.locator('dialog.confirm-dialog[open]');
  await dialog.waitFor({ state: 'visible', timeout: 5000 });
  await dialog.locator('button.primary').click();
  await dialog.waitFor({ state: 'detached', timeout: 5000 });
}

// The local datetime-local value of a moment, as the browser would show it.
async function localInput(page, ms) {
  return page.evaluate((at) => {
    const d = new Date(at);
    const two = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  }, ms);
}

export function scenarios(env) {
  const { browser, baseUrl, outDir, log } = env;
  const shared = {};

  async function enterSeatMap(session) {
    await session.page.goto(`/schedules/${liveSchedule}/queue`);
    await session.page.waitForURL(`**/schedules/${liveSchedule}/seats`, { timeout: 20_000 });
    await waitForSeatMap(session.page);
  }

  async function fan(tag) {
    const session = await newSession(browser, baseUrl, { lang: 'en' });
    await session.page.goto('/');
    await signUpViaApi(session.page, uniqueEmail(tag));
    await enterSeatMap(session);
    return session;
  }

  // Two fans with the live seat map of one schedule open (scenarios 2-4).
  async function pair() {
    shared.pair ??= (async () => ({ a: await fan('a'), b: await fan('b') }))();
    return shared.pair;
  }

  async function holdThroughUi(page, seats) {
    for (const seat of seats) {
      await clickSeat(page, seat);
      await waitFor(`${seat} selected`, async () => (await seatStatus(page, seat)) === 'SELECTED', 2000);
    }
    await page.locator('.selection button.primary').click();
    for (const seat of seats) {
      await waitFor(`${seat} held by me`, async () => (await seatStatus(page, seat)) === 'MINE', 5000);
    }
    // The seats held count against the 4 an account may choose.
    if ((await page.evaluate(() => document.documentElement.lang)) === 'en') {
      const held = await page.evaluate(() => window.__seatMap.held());
      const text = await page.locator('.selection').innerText();
      const expected = held < 4 ? `Choose up to ${4 - held}.` : 'You can choose at most 4 seats.';
      check(text.includes(expected), `the selection says "${text}" with ${held} seats held, not "${expected}"`);
    }
  }

  // From the seat map's hold panel to checkout.
  async function toCheckout(page) {
    await page.locator('.hold a[href="/checkout"]').click();
    await page.waitForURL('**/checkout');
  }

  // Checkout's "Continue to payment"; resolves with the order number the gateway shows.
  async function continueToGateway(page) {
    await page.locator('main button.primary').click();
    await page.waitForURL('**/gateway/*', { timeout: 10_000 });
    return decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  }

  // Hold through the map, check out and pay at the mock gateway; resolves once the order is PAID.
  async function buy(page, seats) {
    await holdThroughUi(page, seats);
    await toCheckout(page);
    const orderNo = await continueToGateway(page);
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page.waitForURL(`**/orders/*`, { timeout: 10_000 });
    await waitFor('order PAID', async () => (await page.locator('[data-status]').getAttribute('data-status')) === 'PAID', 40_000, 25);
    return orderNo;
  }

  async function adminSession(options = {}) {
    const session = await newSession(browser, baseUrl, { lang: 'en', ...options });
    await session.page.goto('/signin');
    await signInAdminViaApi(session.page);
    return session;
  }

  async function timeUntil(description, probe, deadlineMs) {
    const start = Date.now();
    await waitFor(description, probe, deadlineMs, 10);
    return Date.now() - start;
  }

  return [
    {
      name: '1 purchase: sign up, queue, 2 seats, hold, pay, PAID, ticket QR',
      timeoutMs: 90_000,
      async run() {
        const session = await newSession(browser, baseUrl, { lang: 'en' });
        const { page } = session;
        const email = uniqueEmail('buyer');
        await page.goto(`/signup?next=${encodeURIComponent(`/schedules/${liveSchedule}/queue`)}`);
        await page.getByLabel('Name').fill('E2E Buyer');
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(password);
        await page.locator('form button[type=submit]').click();
        await page.waitForURL(`**/schedules/${liveSchedule}/seats`, { timeout: 20_000 });
        await waitForSeatMap(page);
        const seats = await availableSeats(page, 'T', 2);
        check(seats.length === 2, 'two free seats in section T');
        await holdThroughUi(page, seats);
        await waitFor('the hold countdown', async () => /\d\d:\d\d/.test((await page.locator('.hold-timer').textContent()) ?? ''), 2000);
        await toCheckout(page);
        const orderNo = await continueToGateway(page);
        await page.getByRole('button', { name: 'Pay', exact: true }).click();
        await page.waitForURL(`**/orders/*`, { timeout: 10_000 });
        await waitFor('order PAID', async () => (await page.locator('[data-status]').getAttribute('data-status')) === 'PAID', 40_000, 100);
        shared.buyer = { email, orderNo, seats };
        await page.locator('a[href="/me/tickets"].button').click();
        await page.waitForURL('**/me/tickets');
        const ticketsRoute = await page.evaluate(async () => (await fetch('/me/tickets', { headers: { Accept: 'application/json', Authorization: `Bearer ${sessionStorage.getItem('accessToken')}` } })).status);
        check(ticketsRoute === 200, `GET /me/tickets answered ${ticketsRoute} (is the tickets route on this server?)`);
        for (const seat of seats) {
          await waitFor(`ticket QR for ${seat}`, async () => (await page.locator(`li.ticket[data-seat="${seat}"] svg.qr path`).count()) === 1, 10_000);
          // Decodable from a 1x screenshot: a whole number (>= 4) of CSS pixels per module, edges crisp.
          const qr = await page.locator(`li.ticket[data-seat="${seat}"] svg.qr`).evaluate((svg) => {
            const box = svg.getBoundingClientRect();
            return { width: box.width, height: box.height, modules: svg.viewBox.baseVal.width, crisp: svg.getAttribute('shape-rendering') };
          });
          const perModule = qr.width / qr.modules;
          check(Number.isInteger(perModule) && perModule >= 4 && qr.height === qr.width, `QR for ${seat}: ${JSON.stringify(qr)} (${perModule} px per module)`);
          check(qr.crisp === 'crispEdges', `QR for ${seat} is drawn with crisp edges`);
        }
        session.assertClean();
        await session.context.close();
        return `order ${orderNo}, seats ${seats.join(', ')}`;
      },
    },
    {
      name: '2 live map: a hold in one browser shows in the other within 1 s, and its release',
      timeoutMs: 60_000,
      async run() {
        const { a, b } = await pair();
        const [seat] = await availableSeats(a.page, 'S', 1);
        const onStream = async () => (await b.page.locator('.live-badge').getAttribute('data-mode')) === 'live';
        await waitFor('the other map on the live stream (GET /schedules/{id}/seats/stream; polling every 2 s cannot meet 1 s)', onStream, 5000);
        await holdThroughUi(a.page, [seat]);
        const heldMs = await timeUntil(`${seat} HELD in the other map`, async () => (await seatStatus(b.page, seat)) === 'HELD', liveDeadlineMs);
        await a.page.locator('.hold button.secondary').click();
        await waitFor(`${seat} released`, async () => (await seatStatus(a.page, seat)) === 'AVAILABLE', 5000);
        const releasedMs = await timeUntil(`${seat} AVAILABLE in the other map`, async () => (await seatStatus(b.page, seat)) === 'AVAILABLE', liveDeadlineMs);
        a.assertClean();
        b.assertClean();
        return `hold seen after ${heldMs} ms, release after ${releasedMs} ms`;
      },
    },
    {
      name: '3 a held seat cannot be selected (map and server conflict)',
      timeoutMs: 60_000,
      async run() {
        const { a, b } = await pair();
        const [x, y] = await availableSeats(a.page, 'R', 2);
        await holdThroughUi(a.page, [x]);
        await waitFor(`${x} HELD in B's map`, async () => (await seatStatus(b.page, x)) === 'HELD', 5000);
        await clickSeat(b.page, x);
        await waitFor('the seat-taken notice', async () => /already taken/.test((await b.page.locator('.messages').textContent()) ?? ''), 2000);
        check((await seatStatus(b.page, x)) === 'HELD', `${x} must stay HELD in B's map, not selected`);
        // The race: B selected y while it was free; A takes it first; B's hold gets 409 naming y.
        await clickSeat(b.page, y);
        await waitFor(`${y} selected by B`, async () => (await seatStatus(b.page, y)) === 'SELECTED', 2000);
        const held = await a.page.evaluate(
          async ({ seat, schedule }) => {
            const response = await fetch('/tickets/hold', {
              method: 'POST',
              headers: {
                'Content-Type': 'application/json',
                Authorization: `Bearer ${sessionStorage.getItem('accessToken')}`,
                'Queue-Token': sessionStorage.getItem(`queueToken:${schedule}`) ?? '',
              },
              body: JSON.stringify({ scheduleId: schedule, seatNos: [seat] }),
            });
            return response.status;
          },
          { seat: y, schedule: liveSchedule },
        );
        check(held === 200, `A's hold of ${y}: ${held}`);
        const holdButton = b.page.locator('.selection button.primary');
        if (await holdButton.isVisible()) await holdButton.click().catch(() => undefined);
        await waitFor(`${y} HELD (not mine) in B's map`, async () => (await seatStatus(b.page, y)) === 'HELD', 5000);
        const notice = (await b.page.locator('.messages').textContent()) ?? '';
        // Either the live update deselected y before B pressed hold, or the 409 named it.
        check(!/someone just took/.test(notice) || notice.includes(y), `the conflict notice names ${y}: "${notice}"`);
        await a.page.locator('.hold button.secondary').click();
        await a.page.evaluate(
          async ({ seat, schedule }) =>
            fetch('/tickets/release', {
              method: 'POST',
              headers: {
                'Content-Type': 'application/json',
                Authorization: `Bearer ${sessionStorage.getItem('accessToken')}`,
                'Queue-Token': sessionStorage.getItem(`queueToken:${schedule}`) ?? '',
              },
              body: JSON.stringify({ scheduleId: schedule, seatNos: [seat] }),
            }),
          { seat: y, schedule: liveSchedule },
        );
        b.assertClean();
        return /someone just took/.test(notice) ? '409 named the seat' : 'live update deselected the seat first';
      },
    },
    {
      name: '4 hold countdown reaching zero frees the seats on the map',
      timeoutMs: 60_000,
      async run() {
        const { a, b } = await pair();
        const [seat] = await availableSeats(a.page, 'Q', 1);
        await holdThroughUi(a.page, [seat]);
        await waitFor(`${seat} HELD in B's map`, async () => (await seatStatus(b.page, seat)) === 'HELD', 5000);
        // scripts/e2e runs holds of 10 s; a longer ttl only makes this wait longer.
        await waitFor(`${seat} AVAILABLE again in A's map`, async () => (await seatStatus(a.page, seat)) === 'AVAILABLE', 20_000, 100);
        await waitFor('the hold-ended notice', async () => /hold has ended/.test((await a.page.locator('.messages').textContent()) ?? ''), 2000);
        await waitFor(`${seat} AVAILABLE again in B's map`, async () => (await seatStatus(b.page, seat)) === 'AVAILABLE', 5000);
        a.assertClean();
        b.assertClean();
        return `seat ${seat} freed`;
      },
    },
    {
      name: '5 Korean and English render',
      timeoutMs: 30_000,
      async run() {
        for (const [lang, heading] of [['en', 'Concerts'], ['ko', '공연']]) {
          const session = await newSession(browser, baseUrl, { lang });
          await session.page.goto('/');
          await waitFor(`"${heading}" heading`, async () => (await session.page.locator('h1').textContent()) === heading, 5000);
          check((await session.page.getAttribute('html', 'lang')) === lang, `html lang=${lang}`);
          if (lang === 'en') {
            await session.page.getByLabel('Language').selectOption('ko');
            await waitFor('switched to Korean', async () => (await session.page.locator('h1').textContent()) === '공연', 2000);
            check((await session.page.evaluate(() => localStorage.getItem('lang'))) === 'ko', 'choice kept in localStorage');
            // The footer follows the switch too.
            await waitFor('the footer in Korean', async () => (await session.page.locator('footer').textContent()) === '티켓 예매 데모', 2000);
          }
          session.assertClean();
          await session.context.close();
        }
        return 'en "Concerts", ko "공연", switch kept';
      },
    },
    {
      name: '6 axe-core: no serious or critical violation on any page',
      timeoutMs: 240_000,
      async run() {
        const tour = await pageTour();
        const bad = tour.violations;
        check(bad.length === 0, bad.map((v) => `${v.page} [${v.lang}/${v.width}] ${v.id} (${v.impact}): ${v.help} ${JSON.stringify(v.target)}`).join('\n'));
        return `${tour.scanned} page views scanned${tour.skipped.length ? `; skipped: ${tour.skipped.join(', ')}` : ''}`;
      },
    },
    {
      name: '7 screenshots: every page, both languages, phone and laptop',
      timeoutMs: 240_000,
      async run() {
        const tour = await pageTour();
        check(tour.problems.length === 0, tour.problems.join(' | '));
        return `${tour.screenshots} screenshots in ${join(outDir, 'screenshots')}`;
      },
    },
    {
      // Reports the figure; the target (<= 1 s) is judged by bench/seatmap-render, not here: speed
      // lives in benchmarks, and a loaded CI box must not fail the suite.
      name: '8 seat map first render, 10,000 seats',
      timeoutMs: 60_000,
      async run() {
        const times = [];
        const draws = [];
        const runs = Math.max(3, Number(process.env.E2E_RENDER_RUNS ?? 3));
        for (let i = 0; i < runs; i += 1) {
          const session = await newSession(browser, baseUrl, { lang: 'en' });
          await session.page.goto('/');
          await signUpViaApi(session.page, uniqueEmail('render'));
          await session.page.evaluate((id) => sessionStorage.setItem(`queueToken:${id}`, 'render-test'), liveSchedule);
          await session.page.goto(`/schedules/${liveSchedule}/seats`);
          await waitForSeatMap(session.page);
          const [total, draw] = await session.page.evaluate(() => [window.__seatMapRenderMs, window.__seatMapDrawMs]);
          times.push(total);
          draws.push(draw);
          await session.context.close();
        }
        const sorted = [...times].sort((x, y) => x - y);
        const median = sorted[Math.floor(sorted.length / 2)];
        const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))];
        log(`seat map first render (schedule ${liveSchedule}, 10,000 seats, 1280 px): median ${median.toFixed(0)} ms of ${times.map((t) => t.toFixed(0)).join('/')} ms (fetch+parse+layout+paint); layout+paint alone ${draws.map((t) => t.toFixed(0)).join('/')} ms`);
        shared.renderMs = median;
        check(times.every((t) => Number.isFinite(t) && t > 0), `no render time recorded: ${times.join('/')}`);
        log(`RENDER runs=${times.length} median_ms=${median.toFixed(0)} p90_ms=${p90.toFixed(0)} max_ms=${sorted[sorted.length - 1].toFixed(0)}`);
        return `median ${median.toFixed(0)} ms, p90 ${p90.toFixed(0)} ms of ${times.length}`;
      },
    },
    {
      name: '9 stream client: the map drawn from the layout and the snapshot, then a delta applied (stream served by the test); without a stream, from GET /seats at once',
      timeoutMs: 30_000,
      async run() {
        // Checks the EventSource side of the contract on any server: the test answers the stream
        // itself (snapshot v1, then a delta v2) and looks at the map.
        const session = await newSession(browser, baseUrl, { lang: 'en' });
        const { page, context } = session;
        const requests = [];
        await context.route(`**/schedules/${liveSchedule}/seats/stream`, (route) => {
          requests.push(route.request().headers()['last-event-id'] ?? null);
          const snapshot = { version: 1, seats: [{ seatNo: 'A-1', status: 'HELD' }, { seatNo: 'A-2', status: 'AVAILABLE' }] };
          const delta = { version: 2, changes: [{ seatNo: 'A-2', status: 'SOLD' }] };
          route.fulfill({
            status: 200,
            headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' },
            body: `retry: 60000\nid: 1\nevent: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n: keep-alive\n\nid: 2\nevent: delta\ndata: ${JSON.stringify(delta)}\n\n`,
          });
        });
        let mapFetches = 0;
        await context.route(`**/schedules/${liveSchedule}/seats`, async (route) => {
          if (route.request().resourceType() === 'document') return route.continue();
          // The first map says A-1 and A-2 are free; later polls agree with the stream's end state.
          mapFetches += 1;
          const response = await route.fetch();
          const map = await response.json();
          const forced = mapFetches === 1 ? { 'A-1': 'AVAILABLE', 'A-2': 'AVAILABLE' } : { 'A-1': 'HELD', 'A-2': 'SOLD' };
          for (const seat of map.seats) if (forced[seat.seatNo]) seat.status = forced[seat.seatNo];
          await route.fulfill({ response, json: map });
        });
        await page.goto('/');
        await signUpViaApi(page, uniqueEmail('stream'));
        await page.evaluate((id) => sessionStorage.setItem(`queueToken:${id}`, 'stream-test'), liveSchedule);
        await page.goto(`/schedules/${liveSchedule}/seats`);
        await waitForSeatMap(page);
        // The first drawing already has the snapshot's statuses, and no reader's own read of the
        // map (GET /schedules/{id}/seats, a database read each) came before it: the layout and the
        // stream's shared snapshot are what the map is drawn from.
        const fetchesAtFirstDraw = mapFetches;
        const firstDrawn = await seatStatus(page, 'A-1');
        check(firstDrawn === 'HELD', `A-1 is ${firstDrawn} at the first drawing, the snapshot said HELD`);
        check(fetchesAtFirstDraw === 0, `GET /schedules/${liveSchedule}/seats was read ${fetchesAtFirstDraw} times before the map was drawn`);
        // Sooner than the 2 s polling fallback could: it must be the stream.
        await waitFor('A-2 SOLD from the delta', async () => (await seatStatus(page, 'A-2')) === 'SOLD', 1500);
        await clickSeat(page, 'A-2');
        check((await seatStatus(page, 'A-2')) === 'SOLD', 'a sold seat cannot be selected');
        session.assertClean();
        await context.close();

        // Without a stream (a 503 at its cap) the map is read at once, not after the first 2 s poll.
        const fallback = await newSession(browser, baseUrl, { lang: 'en' });
        await fallback.context.route(`**/schedules/${liveSchedule}/seats/stream`, (route) =>
          route.fulfill({ status: 503, headers: { 'Retry-After': '5' }, contentType: 'application/json', body: '{"code":"SERVICE_UNAVAILABLE"}' }));
        let reads = 0;
        await fallback.context.route(`**/schedules/${liveSchedule}/seats`, async (route) => {
          if (route.request().resourceType() === 'document') return route.continue();
          reads += 1;
          const response = await route.fetch();
          const map = await response.json();
          for (const seat of map.seats) if (seat.seatNo === 'A-3') seat.status = 'SOLD';
          await route.fulfill({ response, json: map });
        });
        await fallback.page.goto('/');
        await signUpViaApi(fallback.page, uniqueEmail('nostream'));
        await fallback.page.evaluate((id) => sessionStorage.setItem(`queueToken:${id}`, 'stream-test'), liveSchedule);
        const started = Date.now();
        await fallback.page.goto(`/schedules/${liveSchedule}/seats`);
        await waitForSeatMap(fallback.page);
        const drawnMs = Date.now() - started;
        const fallbackA3 = await seatStatus(fallback.page, 'A-3');
        check(reads >= 1 && fallbackA3 === 'SOLD', `without a stream the map was read ${reads} times; A-3 is ${fallbackA3}`);
        check(drawnMs < 2000, `without a stream the map took ${drawnMs} ms to draw (the first poll is at 2 s)`);
        check((await fallback.page.locator('.live-badge').getAttribute('data-mode')) === 'polling', 'the badge does not say the map polls');
        await fallback.context.close();
        return `stream opened ${requests.length}x; without it the map was drawn from GET /seats in ${drawnMs} ms`;
      },
    },
    {
      name: '10 keyboard and screen reader: arrows move, Enter selects, the seat is announced',
      timeoutMs: 30_000,
      async run() {
        const session = await newSession(browser, baseUrl, { lang: 'en' });
        const { page } = session;
        await page.goto('/');
        await signUpViaApi(page, uniqueEmail('keys'));
        await page.evaluate((id) => sessionStorage.setItem(`queueToken:${id}`, 'keyboard-test'), liveSchedule);
        await page.goto(`/schedules/${liveSchedule}/seats`);
        await waitForSeatMap(page);
        await page.locator('canvas.seat-canvas').focus();
        const announced = () => page.locator('#seat-announcer').textContent();
        await waitFor('the focused seat announced', async () => /^Section [A-T], seat \d+, \$[\d.,]+, /.test((await announced()) ?? ''), 2000);
        const first = await announced();
        await page.keyboard.press('ArrowRight');
        await waitFor('focus moved', async () => (await announced()) !== first, 2000);
        const text = (await announced()) ?? '';
        const [, section, number] = /^Section ([A-T]), seat (\d+)/.exec(text) ?? [];
        const seatNo = `${section}-${number}`;
        const before = await seatStatus(page, seatNo);
        await page.keyboard.press('Enter');
        if (before === 'AVAILABLE') {
          await waitFor(`${seatNo} selected by Enter`, async () => (await seatStatus(page, seatNo)) === 'SELECTED', 2000);
          await waitFor('announced as selected', async () => /selected$/.test((await announced()) ?? ''), 2000);
          await page.keyboard.press(' ');
          await waitFor(`${seatNo} deselected by Space`, async () => (await seatStatus(page, seatNo)) === 'AVAILABLE', 2000);
        }
        // The same seat through the picker (no canvas needed).
        await page.getByLabel('Section', { exact: true }).selectOption(section);
        await page.getByLabel('Seat', { exact: true }).selectOption(seatNo);
        await page.getByRole('button', { name: 'Select or deselect' }).click();
        if (before === 'AVAILABLE') {
          await waitFor(`${seatNo} selected from the picker`, async () => (await seatStatus(page, seatNo)) === 'SELECTED', 2000);
        }
        session.assertClean();
        await session.context.close();
        return `moved to ${seatNo}, toggled with Enter/Space and the picker`;
      },
    },
    {
      name: '11 cancel at the gateway, pay later: the same order, PAID; its gateway afterwards shows the order',
      timeoutMs: 60_000,
      async run() {
        const session = await fan('cancel');
        const { page } = session;
        const [seat] = await availableSeats(page, 'P', 1);
        await holdThroughUi(page, [seat]);
        await page.locator('.hold a[href="/checkout"]').click();
        await page.waitForURL('**/checkout');
        await page.locator('main button.primary').click();
        await page.waitForURL('**/gateway/*', { timeout: 10_000 });
        const first = page.url();
        await page.getByRole('button', { name: 'Cancel', exact: true }).click();
        await page.waitForURL('**/checkout?cancelled=1');
        await waitFor('the cancelled notice', async () => /Payment cancelled/.test((await page.locator('.messages').textContent()) ?? ''), 2000);
        await page.locator('main button.primary').click();
        await page.waitForURL('**/gateway/*', { timeout: 10_000 });
        check(page.url() === first, `paying again reuses the order: ${first} vs ${page.url()}`);
        await page.getByRole('button', { name: 'Pay', exact: true }).click();
        await page.waitForURL('**/orders/*', { timeout: 10_000 });
        await waitFor('order PAID', async () => (await page.locator('[data-status]').getAttribute('data-status')) === 'PAID', 40_000, 100);
        // Back to the gateway of a paid order: its status page, never a second payment.
        await page.goto(first);
        await page.waitForURL('**/orders/*', { timeout: 10_000 });
        check((await page.getByRole('button', { name: 'Pay', exact: true }).count()) === 0, 'the gateway offers to pay a PAID order again');
        // An order that is not the reader's (or does not exist): the error, and nothing to press.
        await page.goto('/gateway/ORD-20261205-000000000000');
        await waitFor('the not-found notice', async () => /could not find/.test((await page.locator('.messages').textContent()) ?? ''), 5000);
        const buttons = await page.locator('.gateway button').count();
        check(buttons === 0, `the gateway of an unknown order shows ${buttons} buttons`);
        session.assertClean();
        await session.context.close();
        return `seat ${seat}, one order; its gateway afterwards shows the order`;
      },
    },
    {
      name: '12 console: an admin imports a venue (CSV), creates a concert and an open schedule; a fan buys; the dashboard shows sold >= 1 within 2 s of PAID',
      timeoutMs: 120_000,
      async run() {
        const admin = await newSession(browser, baseUrl, { lang: 'en' });
        const { page } = admin;
        // Sign in as usual, through the form, straight to the console.
        await page.goto(`/signin?next=${encodeURIComponent('/admin/venues')}`);
        await page.getByLabel('Email').fill(adminEmail);
        await page.getByLabel('Password').fill(adminPassword);
        await page.locator('form button[type=submit]').click();
        await page.waitForURL('**/admin/venues').catch(async (error) => {
          throw new Error(`${error.message}\nat ${page.url()}: ${(await page.locator('main').textContent())?.slice(0, 600)}`);
        });
        const venueName = `E2E Hall ${Date.now().toString(36)}`;
        const csv = 'section,row,seats,tier,price\nA,,1-40,VIP,120.00\nB,,1-60,R,80.00\n';
        await page.getByLabel('Venue name').fill(venueName);
        // A bad layout first: the error names its line, and nothing is created.
        await page.getByLabel('Seat layout (CSV file)').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('section,row,seats,tier,price\nA,,1-5,VIP,120.00\nA,,3,VIP,120.00\n') });
        await page.getByRole('button', { name: 'Import venue' }).click();
        await waitFor('the CSV error naming line 3', async () => /line 3/.test((await page.locator('main .messages').first().textContent()) ?? ''), 10_000);
        await page.getByLabel('Seat layout (CSV file)').setInputFiles({ name: 'hall.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
        await page.getByRole('button', { name: 'Import venue' }).click();
        await waitFor(`venue ${venueName} listed`, async () => (await page.locator(`tr[data-venue="${venueName}"]`).count()) === 1, 10_000);
        check(/100 seats/.test((await page.locator(`tr[data-venue="${venueName}"]`).textContent()) ?? ''), 'the venue has 100 seats');

        await page.locator('.admin-nav a[href="/admin/schedules/new"]').click();
        await page.waitForURL('**/admin/schedules/new');
        await page.getByLabel('Concert', { exact: true }).selectOption('new');
        const title = `E2E Live ${Date.now().toString(36)}`;
        await page.getByLabel('New concert title').fill(title);
        await page.getByLabel('Description').fill('A concert made in the operator console');
        const venueValue = await page.evaluate((name) => [...document.querySelectorAll('select[name=venueId] option')].find((o) => o.textContent.startsWith(name))?.value, venueName);
        check(venueValue, 'the new venue is offered in the editor');
        await page.getByLabel('Venue', { exact: true }).selectOption(venueValue);
        const now = Date.now();
        await page.getByLabel('Show', { exact: true }).fill(await localInput(page, now + 30 * 86_400_000));
        await page.getByLabel('Booking opens', { exact: true }).fill(await localInput(page, now - 2 * 60_000));
        await page.getByLabel('Price of tier VIP').fill('130.00');
        // Booking opening after the show: the error shows next to that field.
        await page.getByLabel('Booking opens', { exact: true }).fill(await localInput(page, now + 40 * 86_400_000));
        await page.getByRole('button', { name: 'Create schedule' }).click();
        await waitFor('the error next to "Booking opens"', async () => (await page.locator('input[name=bookingOpensAt] + .field-error').count()) === 1, 10_000);
        check((await page.locator('input[name=bookingOpensAt]').getAttribute('aria-invalid')) === 'true', 'the field is marked invalid');
        await page.getByLabel('Booking opens', { exact: true }).fill(await localInput(page, now - 2 * 60_000));
        await page.getByRole('button', { name: 'Create schedule' }).click();
        await page.waitForURL(/\/admin\/schedules\/\d+$/, { timeout: 10_000 }).catch(async (error) => {
          throw new Error(`${error.message}\nthe editor says: ${(await page.locator('main').textContent())?.slice(0, 600)}`);
        });
        const scheduleId = Number(new URL(page.url()).pathname.split('/').pop());
        await waitFor('the dashboard figures', async () => (await page.locator('.admin[data-sold]').count()) === 1, 10_000);
        check((await page.locator('.admin').getAttribute('data-sale-state')) === 'OPEN', 'the new schedule is OPEN');

        // The fan, in a browser of their own.
        const fanSession = await newSession(browser, baseUrl, { lang: 'en' });
        const fanPage = fanSession.page;
        const email = uniqueEmail('console-fan');
        await fanPage.goto(`/signup?next=${encodeURIComponent(`/schedules/${scheduleId}/queue`)}`);
        await fanPage.getByLabel('Name').fill('Console Fan');
        await fanPage.getByLabel('Email').fill(email);
        await fanPage.getByLabel('Password').fill(password);
        await fanPage.locator('form button[type=submit]').click();
        await fanPage.waitForURL(`**/schedules/${scheduleId}/seats`, { timeout: 20_000 });
        await waitForSeatMap(fanPage);
        const seats = await availableSeats(fanPage, 'A', 1);
        check(seats.length === 1, 'a free seat in section A of the new venue');
        const orderNo = await buy(fanPage, seats);
        const soldMs = await timeUntil('sold >= 1 on the dashboard', async () => Number(await page.locator('.admin').getAttribute('data-sold')) >= 1, dashboardDeadlineMs);
        const soldText = (await page.locator('[data-stat=sold]').textContent()) ?? '';
        check(Number(soldText.replace(/\D/g, '')) >= 1, `the Sold figure reads "${soldText}"`);
        shared.console = { admin, fan: fanSession, scheduleId, orderNo, email, seat: seats[0] };
        admin.assertClean();
        fanSession.assertClean();
        return `schedule ${scheduleId}, order ${orderNo} (${seats[0]}); dashboard showed sold after ${soldMs} ms`;
      },
    },
    {
      name: '13 console: pause keeps a waiting fan in place and admits no one; resume admits',
      timeoutMs: 90_000,
      async run() {
        const ctx = shared.console;
        check(ctx, 'scenario 12 made no sale');
        const { page } = ctx.admin;
        await confirmThrough(page, page.locator('button[data-state=PAUSED]'));
        await waitFor('PAUSED on the dashboard', async () => (await page.locator('.admin').getAttribute('data-sale-state')) === 'PAUSED', 5000);
        // The control of the state the sale is in does nothing; the others do.
        check((await page.locator('button[data-state=PAUSED]').getAttribute('aria-disabled')) === 'true', 'Pause is not marked as done while paused');
        check((await page.locator('button[data-state=OPEN]').getAttribute('aria-disabled')) === 'false', 'Resume is marked as done while paused');
        const waiter = await newSession(browser, baseUrl, { lang: 'en' });
        const wp = waiter.page;
        await wp.goto('/');
        await signUpViaApi(wp, uniqueEmail('paused'));
        const views = [];
        wp.on('response', async (response) => {
          if (!/\/queue\/(enter|status)/.test(response.url())) return;
          try {
            views.push(await response.json());
          } catch {
            // not JSON: ignored
          }
        });
        await wp.goto(`/schedules/${ctx.scheduleId}/queue`);
        await waitFor('a position in the waiting room', async () => /^\d+$/.test(((await wp.locator('.queue-position').textContent()) ?? '').trim()), 10_000);
        const position = ((await wp.locator('.queue-position').textContent()) ?? '').trim();
        // Three more answers from the server while paused: still WAITING, same place.
        await waitFor('three queue polls while paused', () => views.length >= 4, 30_000, 50);
        check(views.every((v) => v.status === 'WAITING' && String(v.position) === position), `while paused: ${JSON.stringify(views)}`);
        check(new URL(wp.url()).pathname.endsWith('/queue'), 'still in the waiting room');
        // A reload soon after a poll: the page shows the place it was last told instead of a blank
        // card until the new enter answers (the place: enter is idempotent; a 429 is handled too).
        const answersBefore = views.length;
        await wp.reload();
        await waitFor('the last place shown after the reload', async () => ((await wp.locator('.queue-position').textContent()) ?? '').trim() === position, 3000, 20);
        await waitFor('an answer after the reload', () => views.length > answersBefore, 10_000, 50);
        const afterReload = views[answersBefore];
        check(afterReload.status === 429 || (afterReload.status === 'WAITING' && String(afterReload.position) === position), `after the reload: ${JSON.stringify(afterReload)}`);
        if (afterReload.status === 429) {
          await waitFor('the pacing said as information', async () => (await wp.locator('.message-info').count()) === 1, 3000);
          check(((await wp.locator('.queue-position').textContent()) ?? '').trim() === position, 'the place stays on screen during the 429');
        }
        await confirmThrough(page, page.locator('button[data-state=OPEN]'));
        await wp.waitForURL(`**/schedules/${ctx.scheduleId}/seats`, { timeout: 20_000 });
        await waitFor('OPEN on the dashboard', async () => (await page.locator('.admin').getAttribute('data-sale-state')) === 'OPEN', 5000);
        waiter.assertClean();
        ctx.admin.assertClean();
        await waiter.context.close();
        return `position ${position} kept over ${views.length} answers while paused and through a reload; admitted after resume`;
      },
    },
    {
      name: '14 console: refund the fan\'s order; the fan\'s ticket shows REVOKED',
      timeoutMs: 60_000,
      async run() {
        const ctx = shared.console;
        check(ctx, 'scenario 12 made no sale');
        const { page } = ctx.admin;
        await page.locator('.admin-nav a[href="/admin/orders"]').click();
        await page.waitForURL('**/admin/orders');
        await page.getByLabel('Order number or email').fill(ctx.email);
        await page.getByRole('button', { name: 'Search' }).click();
        const row = page.locator(`tr[data-order="${ctx.orderNo}"]`);
        await waitFor(`order ${ctx.orderNo} found`, async () => (await row.count()) === 1, 10_000);
        await confirmThrough(page, row.getByRole('button', { name: `Refund ${ctx.orderNo}` }));
        await waitFor('order CANCELLED', async () => (await row.locator('td[data-status]').getAttribute('data-status')) === 'CANCELLED', 10_000);
        const fp = ctx.fan.page;
        await fp.goto('/me/tickets');
        await waitFor(`ticket ${ctx.seat} REVOKED`, async () => {
          const ticket = fp.locator(`li.ticket[data-seat="${ctx.seat}"]`);
          if ((await ticket.count()) === 1 && /Revoked/.test((await ticket.textContent()) ?? '')) return true;
          await fp.reload();
          return false;
        }, 15_000, 500);
        check((await fp.locator(`li.ticket.revoked[data-seat="${ctx.seat}"] svg.qr`).count()) === 0, 'a revoked ticket shows no QR code');
        ctx.admin.assertClean();
        ctx.fan.assertClean();
        // A refused search clears the results of the one before (and their Refund buttons).
        await page.getByLabel('Order number or email').fill('bad order!');
        await page.getByRole('button', { name: 'Search' }).click();
        await waitFor('the refused search cleared the old results', async () => (await row.count()) === 0, 10_000);
        await page.locator('.admin-nav a[href="/admin/audit"]').click();
        await waitFor('the refund in the audit log', async () => /refund/i.test((await page.locator('main table').textContent()) ?? ''), 10_000);
        await ctx.fan.context.close();
        await ctx.admin.context.close();
        return `order ${ctx.orderNo} CANCELLED, ticket ${ctx.seat} REVOKED, audited`;
      },
    },
    {
      name: '15 console: a fan gets the operators-only page at /admin and 403 from the API',
      timeoutMs: 30_000,
      async run() {
        const session = await newSession(browser, baseUrl, { lang: 'en' });
        const { page } = session;
        await page.goto('/');
        await signUpViaApi(page, uniqueEmail('not-admin'));
        await page.goto('/admin');
        await waitFor('"Operators only"', async () => (await page.locator('main h1').textContent()) === 'Operators only', 10_000);
        check((await page.locator('.admin-nav').count()) === 0, 'no console navigation for a fan');
        const statuses = await page.evaluate(async () => {
          const auth = { Accept: 'application/json', Authorization: `Bearer ${sessionStorage.getItem('accessToken')}` };
          const paths = ['/admin/venues', '/admin/audit', '/admin/schedules/2/stats', '/admin/dead-letters'];
          return Promise.all(paths.map(async (p) => `${p} ${(await fetch(p, { headers: auth })).status}`));
        });
        check(statuses.every((line) => line.endsWith(' 403')), statuses.join(', '));
        session.assertClean();
        await session.context.close();
        return statuses.join(', ');
      },
    },
    {
      // scripts/e2e runs the server with queue.pow-threshold=5 (arrivals per schedule per second)
      // and a small queue.pow-difficulty: the other scenarios' few fans never cross it. The
      // admission round (every 100 ms here) raises the flag for 2 s: the page enters within that.
      name: '16 proof of work: past the arrival threshold the waiting room solves a challenge in a Web Worker, then enters',
      timeoutMs: 60_000,
      async run() {
        const session = await newSession(browser, baseUrl, { lang: 'en' });
        const { page } = session;
        await page.goto('/');
        await signUpViaApi(page, uniqueEmail('pow'));
        // A burst of arrivals on the schedule (this fan joining and leaving): the threshold is crossed.
        const burst = await page.evaluate(async (schedule) => {
          const auth = { Authorization: `Bearer ${sessionStorage.getItem('accessToken')}`, 'Content-Type': 'application/json' };
          const codes = [];
          // Until refused: the admission round (every 100 ms) counts the arrivals and raises the flag.
          for (let i = 0; i < 200; i++) {
            const r = await fetch('/queue/enter', { method: 'POST', headers: auth, body: JSON.stringify({ scheduleId: schedule }) });
            codes.push(r.status === 200 ? 200 : (await r.json()).code);
            if (r.status !== 200) break;
            await fetch(`/queue?scheduleId=${schedule}`, { method: 'DELETE', headers: auth });
          }
          return codes;
        }, liveSchedule);
        check(burst.includes('POW_REQUIRED'), `the burst never crossed the threshold: ${burst.join(',')}`);
        const enters = []; // the waiting room's own enters, from here on
        page.on('response', async (response) => {
          if (!response.url().endsWith('/queue/enter')) return;
          const sent = JSON.parse(response.request().postData() ?? '{}');
          enters.push({ status: response.status(), solved: Boolean(sent.powNonce), code: (await response.json().catch(() => ({}))).code });
        });
        await page.goto(`/schedules/${liveSchedule}/queue`);
        await page.waitForURL(`**/schedules/${liveSchedule}/seats`, { timeout: 30_000 });
        await waitForSeatMap(page);
        const required = enters.findIndex((e) => e.code === 'POW_REQUIRED');
        check(required >= 0, `the page's enter was not asked for a proof of work: ${JSON.stringify(enters)}`);
        check(enters.slice(required).some((e) => e.solved && e.status === 200), `no solved enter was accepted: ${JSON.stringify(enters)}`);
        session.assertClean(); // the worker ran under the CSP (default-src 'self') without a violation
        await session.context.close();
        return `burst ${burst.join(',')}; page enters ${enters.map((e) => `${e.status}${e.solved ? ' (solved)' : ''}`).join(', ')}`;
      },
    },
    {
      name: '17 a first visit: no console error, no failed request, the icon linked, the language not stored',
      timeoutMs: 60_000,
      async run() {
        const seen = [];
        for (const [path, locale] of [['/', 'en-US'], ['/signin', 'en-US'], ['/concerts/1', 'ko-KR']]) {
          const visitor = await freshVisitor(browser, baseUrl, { locale });
          const { page, context, problems } = visitor;
          const requested = [];
          page.on('request', (request) => requested.push(new URL(request.url()).pathname));
          await page.goto(path);
          await waitFor(`${path} rendered`, async () => (await page.locator('main h1').count()) > 0 && (await page.locator('main .loading').count()) === 0, 10_000);
          // Whatever lingers after the first paint (the header's account, late tiers, the icon).
          await page.waitForLoadState('networkidle');
          check(problems.length === 0, `${path}: ${problems.join(' | ')}`);
          check(!requested.includes('/auth/refresh'), `${path}: a visitor who never signed in was refreshed (${requested.join(', ')})`);
          check(!requested.includes('/favicon.ico'), `${path}: the browser asked for /favicon.ico`);
          if (path.startsWith('/concerts/')) {
            // The dates' price tiers come with the schedule list: no seat map is read for them.
            check(!requested.some((p) => /^\/schedules\/\d+\/seats$/.test(p)), `${path}: seat maps read for the tiers (${requested.join(', ')})`);
            check((await page.locator('.tier-list li').count()) > 0, `${path}: no price tiers shown`);
          }
          const icon = await page.locator('link[rel=icon]').getAttribute('href');
          check(/^\/assets\/icon-[A-Za-z0-9]+\.svg$/.test(icon ?? ''), `the icon link: ${icon}`);
          const iconAnswer = await context.request.get(icon);
          check(iconAnswer.status() === 200 && /image\/svg\+xml/.test(iconAnswer.headers()['content-type'] ?? ''), `the icon answers ${iconAnswer.status()} ${iconAnswer.headers()['content-type']}`);
          // The app starts in the language the server chose for <html lang> (from Accept-Language)
          // and writes nothing: localStorage.lang is the reader's own choice only.
          const served = /<html lang="(\w+)">/.exec(await (await context.request.get(path, { headers: { Accept: 'text/html', 'Accept-Language': locale } })).text())?.[1];
          const shown = await page.getAttribute('html', 'lang');
          check(shown === served, `${path}: html lang ${shown}, the server served ${served}`);
          check((await page.evaluate(() => localStorage.getItem('lang'))) === null, `${path}: the language was stored at start`);
          seen.push(`${path} (${locale}) → ${shown}`);
          await context.close();
        }
        return seen.join(', ');
      },
    },
    {
      name: '18 sessions: a new tab restores the session, a bad access token refreshes silently, after sign-out no refresh is tried',
      timeoutMs: 60_000,
      async run() {
        const visitor = await freshVisitor(browser, baseUrl, { locale: 'en-US' });
        const { page, context, problems } = visitor;
        await page.goto('/signup');
        await page.getByLabel('Name').fill('Session Fan');
        await page.getByLabel('Email').fill(uniqueEmail('session'));
        await page.getByLabel('Password').fill(password);
        await page.locator('form button[type=submit]').click();
        await page.waitForURL((url) => url.pathname === '/');
        await waitFor('signed in', async () => /Session Fan/.test((await page.locator('.user').textContent()) ?? ''), 5000);
        // A second tab has no access token: the refresh cookie restores the session.
        const tab = await context.newPage();
        await tab.goto('/me/tickets');
        await waitFor('the second tab signed in', async () => /Session Fan/.test((await tab.locator('.user').textContent()) ?? ''), 5000);
        check(new URL(tab.url()).pathname === '/me/tickets', `the second tab was sent to ${tab.url()}`);
        // Four tabs opened at once all restore the session from the one refresh cookie: refreshing
        // together would present one single-use token twice, which ends the whole session.
        const together = await Promise.all([0, 1, 2, 3].map(() => context.newPage()));
        await Promise.all(together.map((t) => t.goto('/me/tickets')));
        for (const [i, t] of together.entries()) {
          await waitFor(`tab ${i + 3} of four opened together signed in`, async () => /Session Fan/.test((await t.locator('.user').textContent()) ?? ''), 10_000);
        }
        const later = await context.newPage();
        await later.goto('/me/tickets');
        await waitFor('a tab opened after them still signed in', async () => /Session Fan/.test((await later.locator('.user').textContent()) ?? ''), 5000);
        await Promise.all([...together, later].map((t) => t.close()));
        // A bad access token: one 401, a silent refresh, the page still loads.
        await tab.evaluate(() => sessionStorage.setItem('accessToken', 'not-a-token'));
        await tab.reload();
        await waitFor('tickets page after a bad token', async () => (await tab.locator('main h1').textContent()) === 'My tickets' && (await tab.locator('main .loading').count()) === 0, 10_000);
        check(new URL(tab.url()).pathname === '/me/tickets', `a bad token sent the reader to ${tab.url()}`);
        check((await tab.evaluate(() => sessionStorage.getItem('accessToken'))) !== 'not-a-token', 'the token was refreshed');
        await tab.locator('.user button').click();
        await waitFor('signed out', async () => (await tab.locator('.user a[href^="/signin"]').count()) === 1, 5000);
        const after = await context.newPage();
        const requested = [];
        after.on('request', (request) => requested.push(new URL(request.url()).pathname));
        await after.goto('/');
        await after.waitForLoadState('networkidle');
        check(!requested.includes('/auth/refresh'), `after sign-out a new tab asked /auth/refresh: ${requested.join(', ')}`);
        // Only the bad token's own 401 (and its refresh) is expected among all of that.
        const unexpected = problems.filter((line) => !/401 GET .*\/me(\/tickets)?$|status of 401/.test(line));
        check(unexpected.length === 0, unexpected.join(' | '));
        await context.close();
        return 'restored in a new tab and in four opened together, refreshed after a bad token, nothing asked after sign-out';
      },
    },
    {
      name: '19 schedule page: no way in before the opening, a pre-queue when open, paused (still a way in) and closed sales say so; the waiting room shows only the error',
      timeoutMs: 60_000,
      async run() {
        const admin = await adminSession();
        const { page } = admin;
        const [venue] = await adminApi(page, 'GET', '/admin/venues');
        check(venue, 'a venue to schedule in');
        const concert = await adminApi(page, 'POST', '/admin/concerts', { title: `E2E States ${Date.now().toString(36)}`, description: 'sale states' });
        const now = Date.now();
        const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
        const day = 86_400_000;
        const create = (bookingOpensAt, prequeueOpensAt) =>
          adminApi(page, 'POST', '/admin/schedules', {
            concertId: concert.id, venueId: venue.id, showAt: iso(now + 30 * day), bookingOpensAt: iso(bookingOpensAt),
            ...(prequeueOpensAt ? { prequeueOpensAt: iso(prequeueOpensAt) } : {}),
          });
        const later = await create(now + day);
        const prequeue = await create(now + day, now - 60_000);
        const paused = await create(now - 60_000);
        const closed = await create(now - 60_000);
        await adminApi(page, 'PUT', `/admin/schedules/${paused.id}/sale-state`, { state: 'PAUSED' });
        await adminApi(page, 'PUT', `/admin/schedules/${closed.id}/sale-state`, { state: 'CLOSED' });
        await admin.context.close();

        const session = await newSession(browser, baseUrl, { lang: 'en' });
        const fanPage = session.page;
        await fanPage.goto(`/concerts/${concert.id}`);
        await waitFor('four dates', async () => (await fanPage.locator('li.schedule').count()) === 4, 10_000);
        const card = (id) => fanPage.locator(`li.schedule[data-schedule="${id}"]`);
        const way = (id) => card(id).locator(`a[href="/schedules/${id}/queue"]`);
        const text = async (id) => (await card(id).locator('.sale-state').textContent()) ?? '';
        check(/Booking opens in/.test(await text(later.id)), `before the opening: "${await text(later.id)}"`);
        check(!(await way(later.id).isVisible()), 'no "Get tickets" before the opening');
        check((await way(later.id).evaluate((a) => getComputedStyle(a).display)) === 'none', 'the hidden link is not displayed');
        check(await way(prequeue.id).isVisible(), 'a way into the open pre-queue');
        check((await way(prequeue.id).textContent()) === 'Join the pre-queue', `pre-queue link: "${await way(prequeue.id).textContent()}"`);
        // Paused: said so, and the way into the line stays (newcomers wait at the back until it resumes).
        check((await text(paused.id)) === 'Sale paused' && (await way(paused.id).isVisible()), `paused: "${await text(paused.id)}"`);
        check((await text(closed.id)) === 'Sale closed' && !(await way(closed.id).isVisible()), `closed: "${await text(closed.id)}"`);

        await signUpViaApi(fanPage, uniqueEmail('states'));
        for (const [id, expected] of [[closed.id, 'The sale for this date is closed.'], [later.id, 'Booking has not opened yet.'], [999_999_999, 'There is no such date']]) {
          await fanPage.goto(`/schedules/${id}/queue`);
          await waitFor(`the waiting room's error for ${id}`, async () => ((await fanPage.locator('main .messages').textContent()) ?? '').includes(expected), 10_000);
          const main = (await fanPage.locator('main').innerText()) ?? '';
          check(!/You are in line|Joining the line/.test(main), `schedule ${id}: "in line" next to the error: ${JSON.stringify(main)}`);
          check(!(await fanPage.locator('.queue-card').isVisible()), `schedule ${id}: the queue card is shown`);
        }
        await fanPage.goto(`/schedules/${prequeue.id}/queue`);
        await waitFor('pre-queued', async () => /before the sale opens/.test((await fanPage.locator('.queue-status').textContent()) ?? ''), 10_000);
        session.assertClean();
        await session.context.close();
        return `schedules ${later.id} (later), ${prequeue.id} (pre-queue), ${paused.id} (paused), ${closed.id} (closed)`;
      },
    },
    {
      name: '20 tabs: a hold made in one tab is the reader\'s in another, a release there ends it in the first, and checkout (also opened directly in a third tab) goes on with the first tab\'s order',
      timeoutMs: 90_000,
      async run() {
        const session = await fan('tabs');
        const first = session.page;
        // What the app itself stores after an in-app sign-in: a new tab then restores the session.
        await first.evaluate(() => localStorage.setItem('signedIn', '1'));
        const seats = await availableSeats(first, 'Q', 2);
        // A selection (not held yet) survives a reload of the page.
        await clickSeat(first, seats[0]);
        await waitFor(`${seats[0]} selected`, async () => (await seatStatus(first, seats[0])) === 'SELECTED', 2000);
        await first.reload();
        await waitForSeatMap(first);
        await waitFor(`${seats[0]} still selected after a reload`, async () => (await seatStatus(first, seats[0])) === 'SELECTED', 5000);
        await clickSeat(first, seats[0]);
        await waitFor(`${seats[0]} unselected`, async () => (await seatStatus(first, seats[0])) === 'AVAILABLE', 2000);
        await holdThroughUi(first, seats);
        const announced = (await first.locator('#seat-announcer').textContent()) ?? '';
        check(seats.every((seat) => announced.includes(seat)) && /Held/.test(announced), `the announcer names the held seats: "${announced}"`);
        // A second tab knows nothing of it (sessionStorage is per tab) until the server tells it.
        const second = await session.context.newPage();
        await enterSeatMap({ page: second });
        for (const seat of seats) {
          await waitFor(`${seat} mine in the second tab`, async () => (await seatStatus(second, seat)) === 'MINE', 5000);
        }
        const listed = (await second.locator('.hold .seat-list').textContent()) ?? '';
        check(seats.every((seat) => listed.includes(seat)), `the second tab's hold panel lists ${seats.join(', ')}: "${listed}"`);
        // A checkout open in another tab lists them, and reads the hold again when it is released.
        const watcher = await session.context.newPage();
        await watcher.goto('/checkout');
        await waitFor('the watching checkout lists the hold', async () => ((await watcher.locator('table.summary').textContent()) ?? '').includes(seats[0]), 5000);
        // Released in the second tab: the first forgets them when it next loads the map.
        await second.locator('.hold button.secondary').click();
        await waitFor('the watching checkout re-read after the release', async () => watcher.url().includes('changed=1') && (await watcher.locator('table.summary').count()) === 0, 5000);
        await watcher.close();
        // Focus moves on from the Release button (gone with the hold panel) to the selection.
        check((await second.evaluate(() => document.activeElement?.id)) === 'selection-heading', 'focus after Release is not on the selection heading');
        for (const seat of seats) {
          await waitFor(`${seat} released in the second tab`, async () => (await seatStatus(second, seat)) === 'AVAILABLE', 5000);
        }
        // The first tab hears of it on the live stream and asks the server: no reload needed.
        for (const seat of seats) {
          await waitFor(`${seat} no longer the first tab's`, async () => (await seatStatus(first, seat)) !== 'MINE', 5000);
        }
        await waitFor('the first tab\'s hold panel gone', async () => first.locator('.hold').isHidden(), 2000);
        await first.reload();
        await waitForSeatMap(first);
        for (const seat of seats) check((await seatStatus(first, seat)) !== 'MINE', `${seat}, released in the second tab, is still the first tab's`);
        check(await first.locator('.hold').isHidden(), 'the first tab still shows a hold');
        // An order made in the first tab is the one the second tab's checkout pays (a second
        // `ready` for those seats would be 409 SEAT_IN_PAYMENT). The second tab, open on the map
        // all along, shows the first tab's new hold as the reader's without being reopened.
        const [seat] = await availableSeats(first, 'P', 1);
        await holdThroughUi(first, [seat]);
        await waitFor(`${seat}, held in the first tab, mine in the open second tab`, async () => (await seatStatus(second, seat)) === 'MINE', 5000);
        await toCheckout(first);
        const orderNo = await continueToGateway(first);
        await toCheckout(second);
        const secondOrder = await continueToGateway(second);
        check(secondOrder === orderNo, `the second tab pays order ${secondOrder}, the first made ${orderNo}`);
        // A third tab that goes straight to checkout finds the hold (and its price) on the server.
        const third = await session.context.newPage();
        await third.goto('/checkout');
        await waitFor('the third tab\'s order summary', async () => (await third.locator('table.summary tbody').count()) === 1, 5000);
        const summary = (await third.locator('table.summary').textContent()) ?? '';
        check(summary.includes(seat), `the third tab's summary lists ${seat}: "${summary}"`);
        const thirdOrder = await continueToGateway(third);
        check(thirdOrder === orderNo, `the third tab pays order ${thirdOrder}, the first made ${orderNo}`);
        // One more seat next to the unpaid order: checkout pays it as an order of its own (a `ready`
        // naming the first order's seat too would be 409 SEAT_IN_PAYMENT), then the first order.
        await first.goto(`/schedules/${liveSchedule}/seats`);
        await waitForSeatMap(first);
        const [extra] = await availableSeats(first, 'P', 1);
        await holdThroughUi(first, [extra]);
        // Paid from a new tab opened straight on /checkout (no waiting-room token in it yet: the
        // reader's admission is asked for).
        const fourth = await session.context.newPage();
        await fourth.goto('/checkout');
        await waitFor('the fourth tab\'s summary', async () => (await fourth.locator('table.summary tbody').count()) === 1, 5000);
        const paying = (await fourth.locator('table.summary tbody').textContent()) ?? '';
        const also = (await fourth.locator('.also-held').textContent()) ?? '';
        check(paying.includes(extra) && !paying.includes(seat), `checkout pays ${extra} alone: "${paying}"`);
        check(also.includes(seat), `checkout names ${seat} as held in its own order: "${also}"`);
        const extraOrder = await continueToGateway(fourth);
        check(extraOrder !== orderNo, `${extra} was put in ${orderNo}, the order of ${seat}`);
        await first.goto('/checkout');
        await waitFor('checkout of the first order', async () => ((await first.locator('table.summary tbody').textContent()) ?? '').includes(seat), 5000);
        const last = await continueToGateway(first);
        check(last === orderNo, `after ${extraOrder}, checkout goes to ${last}, not ${orderNo}`);
        // The second tab last saw only the first order: its checkout asks the server again, knows
        // both orders, and pays one of them (never a third order, never a 409).
        await second.goto('/checkout');
        await waitFor('the second tab\'s summary', async () => (await second.locator('table.summary tbody').count()) === 1, 5000);
        const both = `${(await second.locator('table.summary tbody').textContent()) ?? ''} ${(await second.locator('.also-held').textContent()) ?? ''}`;
        check(both.includes(seat) && both.includes(extra), `the second tab's checkout shows ${seat} and ${extra}: "${both}"`);
        const paid = await continueToGateway(second);
        check(paid === orderNo || paid === extraOrder, `the second tab pays ${paid}, not ${orderNo} or ${extraOrder}`);
        // Back to the sign-in page with a session (as Back after a purchase does): it says so and
        // offers the way on.
        await second.goto('/signin?next=%2Fme%2Ftickets');
        await waitFor('the signed-in notice', async () => (await second.getByRole('link', { name: 'Continue', exact: true }).count()) === 1, 5000);
        const onward = await second.getByRole('link', { name: 'Continue', exact: true }).getAttribute('href');
        check(onward === '/me/tickets', `the sign-in page's Continue goes to ${onward}, not /me/tickets`);
        // Only this site: a next that the browser's URL parser makes another origin (it drops tabs
        // and newlines: "/<TAB>/evil.example" is "//evil.example") leads home.
        const hostile = ['%2F%09%2Fevil.example.com%2Fx', '%2F%0A%2Fevil.example.com', '%2F%2Fevil.example.com', '%2F%5Cevil.example.com', 'https%3A%2F%2Fevil.example.com'];
        // Dot segments resolve away, leaving a path that starts with "//": another host as a link.
        hostile.push(...['/..//evil.example.com', '/.//evil.example.com', '/%2e%2e//evil.example.com', '/a/..//evil.example.com'].map(encodeURIComponent));
        for (const next of hostile) {
          await second.goto(`/signin?next=${next}`);
          await waitFor(`the signed-in notice (next=${next})`, async () => (await second.getByRole('link', { name: 'Continue', exact: true }).count()) === 1, 5000);
          const href = await second.getByRole('link', { name: 'Continue', exact: true }).getAttribute('href');
          check(href === '/', `next=${next}: Continue goes to ${JSON.stringify(href)}, not /`);
        }
        await second.goto(`/signin?next=${encodeURIComponent('/me/tickets?from=x#top')}`);
        await waitFor('the signed-in notice (a path with a query)', async () => (await second.getByRole('link', { name: 'Continue', exact: true }).count()) === 1, 5000);
        const kept = await second.getByRole('link', { name: 'Continue', exact: true }).getAttribute('href');
        check(kept === '/me/tickets?from=x#top', `a same-site next with a query became ${kept}`);
        session.assertClean();
        await session.context.close();
        return `${seats.join(', ')} held in one tab, released in another; order ${orderNo} continued in the second tab`;
      },
    },
    {
      name: '21 a device clock 6 minutes ahead: a fresh hold counts down by the server\'s clock (its Date header), and checkout offers to pay it',
      timeoutMs: 60_000,
      async run() {
        const session = await newSession(browser, baseUrl, { lang: 'en' });
        await session.context.addInitScript(() => {
          const skew = 6 * 60 * 1000;
          const RealDate = Date;
          class SkewedDate extends RealDate {
            constructor(...args) {
              if (args.length === 0) super(RealDate.now() + skew);
              else super(...args);
            }
            static now() {
              return RealDate.now() + skew;
            }
          }
          globalThis.Date = SkewedDate;
        });
        await session.page.goto('/');
        await signUpViaApi(session.page, uniqueEmail('skew'));
        await enterSeatMap(session);
        const [seat] = await availableSeats(session.page, 'O', 1);
        await holdThroughUi(session.page, [seat]);
        // scripts/e2e holds for 10 s: by the device's clock the hold ended 5:50 ago. (The server's
        // Date is in whole seconds, so the countdown may read a second or two long.)
        const panel = await session.page.locator('.hold').innerText();
        check(/Your hold ends in 00:(0\d|1[0-2])/.test(panel), `the hold panel with the clock 6 min ahead: "${panel}"`);
        check((await seatStatus(session.page, seat)) === 'MINE', `${seat} is not shown as the reader's own`);
        await toCheckout(session.page);
        await waitFor('checkout offers to pay', async () => (await session.page.locator('main button.primary').count()) === 1, 5000);
        check(!(await session.page.locator('main button.primary').isDisabled()), 'checkout\'s Continue to payment is disabled');
        session.assertClean();
        await session.context.close();
        return `${seat} held and offered for payment with the device clock 6 min ahead`;
      },
    },
  ];

  // Every page in both languages at both widths: screenshots, and an axe scan of each.
  function pageTour() {
    shared.tour ??= (async () => {
      const shots = join(outDir, 'screenshots');
      mkdirSync(shots, { recursive: true });
      const result = { violations: [], scanned: 0, screenshots: 0, skipped: [], problems: [] };
      const buyer = shared.buyer;
      const order = buyer?.orderNo;
      if (!order) result.skipped.push('gateway and order pages (scenario 1 made no order)');
      const pages = [
        { name: 'concerts', path: '/' },
        { name: 'schedule', path: '/concerts/1' },
        { name: 'signin', path: '/signin', signedOut: true },
        { name: 'signup', path: '/signup', signedOut: true },
        { name: 'queue', path: `/schedules/${liveSchedule}/queue` },
        { name: 'seats', path: `/schedules/${liveSchedule}/seats`, seatMap: true },
        { name: 'checkout', path: '/checkout' },
        ...(order ? [{ name: 'gateway', path: `/gateway/${order}` }, { name: 'order', path: `/orders/${order}` }] : []),
        { name: 'tickets', path: '/me/tickets' },
        { name: 'not-found', path: '/no-such-page' },
        { name: 'admin-denied', path: '/admin' },
        { name: 'admin-home', path: '/admin', admin: true },
        { name: 'admin-dashboard', path: `/admin/schedules/${liveSchedule}`, admin: true, ready: '.admin[data-samples="3"], .admin[data-samples="4"]' },
        { name: 'admin-venues', path: '/admin/venues', admin: true, ready: '[data-loaded]' },
        { name: 'admin-schedule-new', path: '/admin/schedules/new', admin: true },
        { name: 'admin-orders', path: `/admin/orders${buyer ? `?q=${encodeURIComponent(buyer.email)}` : ''}`, admin: true, ready: buyer ? 'tr[data-order]' : null },
        { name: 'admin-dead-letters', path: '/admin/dead-letters', admin: true },
        { name: 'admin-audit', path: '/admin/audit', admin: true },
      ];
      for (const lang of ['en', 'ko']) {
        for (const [width, viewport] of Object.entries(viewports)) {
          const session = await newSession(browser, baseUrl, { lang, viewport });
          const { page, context } = session;
          // The waiting room as a fan far down the line sees it (a real queue admits at once here).
          const waiting = { status: 'WAITING', position: 1834, estimatedWaitSeconds: 412, pollAfterMs: 600_000 };
          await context.route('**/queue/enter', (route) => route.fulfill({ json: waiting }));
          await context.route('**/queue/status*', (route) => route.fulfill({ json: waiting }));
          // The hold the pages show (the seat map's "mine", checkout's summary) is the server's:
          // the same two seats as the stored one below.
          await context.route('**/me/reservations', (route) => {
            const expiresAt = new Date(Date.now() + 4 * 60_000).toISOString();
            const row = (seatNo, id) => ({ reservationId: id, scheduleId: liveSchedule, seatNo, status: 'HELD', expiresAt, orderNo: null, createdAt: new Date().toISOString() });
            return route.fulfill({ json: [row('A-102', 2), row('A-101', 1)] });
          });
          // The gateway offers only a READY order: the buyer's (paid by now) is shown as one there.
          if (order) {
            await context.route(`**/payment/${order}*`, async (route) => {
              if (!page.url().includes('/gateway/')) return route.continue();
              const response = await route.fetch();
              return route.fulfill({ response, json: { ...(await response.json()), status: 'READY' } });
            });
          }
          await page.goto('/signin');
          // The operator first, so the refresh cookie left is the fan's, as before.
          const adminToken = await signInAdminViaApi(page);
          const email = buyer?.email ?? uniqueEmail('tour');
          await signUpViaApi(page, email);
          const fanToken = await page.evaluate(() => sessionStorage.getItem('accessToken'));
          for (const spec of pages) {
            const token = spec.admin ? adminToken : fanToken;
            await page.evaluate(
              ({ schedule, signedOut, token }) => {
                if (signedOut) sessionStorage.removeItem('accessToken');
                else sessionStorage.setItem('accessToken', token);
                sessionStorage.setItem(`queueToken:${schedule}`, 'tour');
                const expiresAt = new Date(Date.now() + 4 * 60_000).toISOString();
                sessionStorage.setItem('hold', JSON.stringify({
                  scheduleId: String(schedule),
                  expiresAt,
                  seats: [{ seatNo: 'A-101', section: 'A', price: 150 }, { seatNo: 'A-102', section: 'A', price: 150 }],
                }));
              },
              { schedule: liveSchedule, signedOut: Boolean(spec.signedOut), token },
            );
            await page.goto(spec.path);
            if (spec.seatMap) await waitForSeatMap(page);
            await waitFor(`${spec.name} rendered`, async () => (await page.locator('main h1').count()) > 0 && (await page.locator('main .loading').count()) === 0, 10_000);
            if (spec.name === 'order') await waitFor('order status', async () => (await page.locator('[data-status]').count()) > 0, 10_000);
            if (spec.ready) await waitFor(`${spec.name}: ${spec.ready}`, async () => (await page.locator(spec.ready).count()) > 0, 10_000);
            await page.evaluate(() => document.fonts.ready);
            await page.screenshot({ path: join(shots, `${spec.name}-${lang}-${width}.jpg`), type: 'jpeg', quality: 60, fullPage: true });
            result.screenshots += 1;
            for (const v of await axeScan(page)) result.violations.push({ ...v, page: spec.name, lang, width });
            result.scanned += 1;
          }
          result.problems.push(...session.problems);
          await context.close();
        }
      }
      return result;
    })();
    return shared.tour;
  }
}
