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
        await page.locator('.hold a[href="/checkout"]').click();
        await page.waitForURL('**/checkout');
        await page.locator('main button.primary').click();
        await page.waitForURL('**/gateway/*', { timeout: 10_000 });
        const orderNo = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
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
        // The test profile's hold.ttl is 3 s; a longer ttl only makes this wait longer.
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
      name: '9 stream client: snapshot then delta applied to the map (stream served by the test)',
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
        // Sooner than the 2 s polling fallback could: it must be the stream.
        await waitFor('A-1 HELD from the snapshot', async () => (await seatStatus(page, 'A-1')) === 'HELD', 1500);
        await waitFor('A-2 SOLD from the delta', async () => (await seatStatus(page, 'A-2')) === 'SOLD', 1500);
        check(mapFetches === 1, `the map was fetched ${mapFetches} times before the stream's changes showed`);
        await clickSeat(page, 'A-2');
        check((await seatStatus(page, 'A-2')) === 'SOLD', 'a sold seat cannot be selected');
        session.assertClean();
        await context.close();
        return `stream opened ${requests.length}x`;
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
      name: '11 cancel at the gateway, pay later: the same order, PAID',
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
        session.assertClean();
        await session.context.close();
        return `seat ${seat}, one order`;
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
      ];
      for (const lang of ['en', 'ko']) {
        for (const [width, viewport] of Object.entries(viewports)) {
          const session = await newSession(browser, baseUrl, { lang, viewport });
          const { page, context } = session;
          // The waiting room as a fan far down the line sees it (a real queue admits at once here).
          const waiting = { status: 'WAITING', position: 1834, estimatedWaitSeconds: 412, pollAfterMs: 600_000 };
          await context.route('**/queue/enter', (route) => route.fulfill({ json: waiting }));
          await context.route('**/queue/status*', (route) => route.fulfill({ json: waiting }));
          await page.goto('/signin');
          const email = buyer?.email ?? uniqueEmail('tour');
          await signUpViaApi(page, email);
          const token = await page.evaluate(() => sessionStorage.getItem('accessToken'));
          for (const spec of pages) {
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
