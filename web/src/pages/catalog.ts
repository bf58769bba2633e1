// Concerts, and one concert's dates with price tiers and a live countdown to the sale.
import { call } from '../api';
import { append, clear, h } from '../dom';
import { countdown, dateTime, money } from '../format';
import { t } from '../i18n';
import type { Page } from '../router';
import { every, handleError, loadingText, messageArea, validId } from './common';
import { priceTiers, type SeatMapResponse } from '../seatmodel';

interface Concert {
  id: number;
  title: string;
  description: string;
}

interface Schedule {
  id: number;
  concertId: number;
  showAt: string;
  bookingOpensAt: string;
}

export async function renderConcerts(page: Page): Promise<void> {
  const list = h('ul', { className: 'cards' });
  const messages = messageArea();
  const loading = loadingText();
  append(page.outlet, [h('h1', {}, t('concertsTitle')), messages, loading, list]);
  try {
    const concerts = await call<Concert[]>('/concerts');
    if (page.left) return;
    loading.remove();
    if (concerts.length === 0) list.replaceWith(h('p', {}, t('concertsEmpty')));
    for (const concert of concerts) {
      list.appendChild(
        h(
          'li',
          { className: 'card' },
          h('h2', {}, concert.title),
          h('p', {}, concert.description),
          h('a', { className: 'button', href: `/concerts/${concert.id}` }, t('seeDates')),
        ),
      );
    }
  } catch (error) {
    loading.remove();
    handleError(page, messages, error);
  }
}

export async function renderSchedules(page: Page): Promise<void> {
  const concertId = page.params.id;
  const messages = messageArea();
  const title = h('h1', {}, t('schedulesTitle'));
  const loading = loadingText();
  const list = h('ul', { className: 'cards' });
  append(page.outlet, [h('p', {}, h('a', { href: '/' }, `← ${t('backToConcerts')}`)), title, messages, loading, list]);
  if (!validId(concertId)) {
    loading.remove();
    handleError(page, messages, new Error('bad id'));
    return;
  }
  try {
    const [concerts, schedules] = await Promise.all([
      call<Concert[]>('/concerts'),
      call<Schedule[]>(`/concerts/${concertId}/schedules`),
    ]);
    if (page.left) return;
    loading.remove();
    const concert = concerts.find((c) => String(c.id) === concertId);
    if (concert) {
      title.textContent = concert.title;
      title.after(h('p', { className: 'lead' }, concert.description));
    }
    if (schedules.length === 0) list.replaceWith(h('p', {}, t('noSchedules')));
    const countdowns: (() => void)[] = [];
    for (const schedule of schedules) {
      const card = scheduleCard(schedule, countdowns);
      list.appendChild(card.element);
      void loadTiers(page, schedule.id, card.tiers);
    }
    every(page, 1000, () => countdowns.forEach((tick) => tick()));
  } catch (error) {
    loading.remove();
    handleError(page, messages, error);
  }
}

function scheduleCard(schedule: Schedule, countdowns: (() => void)[]): { element: HTMLElement; tiers: HTMLElement } {
  const opensAt = Date.parse(schedule.bookingOpensAt);
  const state = h('p', { className: 'sale-state' });
  const action = h('a', { className: 'button', href: `/schedules/${schedule.id}/queue` }, t('joinQueue'));
  const tick = (): void => {
    const left = opensAt - Date.now();
    state.textContent = left > 0 ? t('opensIn', { time: countdown(left) }) : t('bookingOpen');
    state.classList.toggle('open', left <= 0);
    action.hidden = left > 0;
  };
  tick();
  countdowns.push(tick);
  const tiers = h('div', { className: 'tiers' });
  const element = h(
    'li',
    { className: 'card schedule' },
    h('h2', {}, dateTime(schedule.showAt)),
    h(
      'dl',
      {},
      h('dt', {}, t('bookingOpensAt')),
      h('dd', {}, dateTime(schedule.bookingOpensAt)),
    ),
    state,
    tiers,
    action,
  );
  return { element, tiers };
}

async function loadTiers(page: Page, scheduleId: number, container: HTMLElement): Promise<void> {
  try {
    const map = await call<SeatMapResponse>(`/schedules/${scheduleId}/seats`);
    if (page.left) return;
    clear(container);
    const list = h('ul', { className: 'tier-list' });
    for (const tier of priceTiers(map.seats)) {
      const swatch = h('span', { className: `swatch tier-${tier.index}`, 'aria-hidden': 'true' });
      list.appendChild(
        h('li', {}, swatch, `${money(tier.price)} — ${t('tierSections', { sections: tier.sections.join(', ') })}`),
      );
    }
    append(container, [h('h3', {}, t('priceTiers')), list]);
  } catch {
    // Tiers are a nicety on this page; the seat map shows them again.
  }
}
