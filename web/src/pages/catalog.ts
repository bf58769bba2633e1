// Concerts, and one concert's dates with price tiers and a live countdown to the sale.
import { call } from '../api';
import { append, clear, h } from '../dom';
import { countdown, dateTime, money } from '../format';
import { t } from '../i18n';
import type { Page } from '../router';
import { every, handleError, loadingText, messageArea, validId } from './common';
import { naturalCompare, priceTiers, type SeatMapResponse } from '../seatmodel';
import { serverNow } from '../clock';

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
  prequeueOpensAt?: string | null;
  // The operator's sale control (DESIGN.md §14): PAUSED admits no one (newcomers still join the
  // line), CLOSED takes no one new.
  saleState?: 'OPEN' | 'PAUSED' | 'CLOSED';
  // Dearest first (GET /concerts/{id}/schedules): no seat map is needed for this page.
  priceTiers?: { price: number; sections: string[] }[];
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
      if (schedule.priceTiers) {
        showTiers(card.tiers, schedule.priceTiers);
      } else {
        void loadTiers(page, schedule.id, card.tiers);
      }
    }
    every(page, 1000, () => countdowns.forEach((tick) => tick()));
  } catch (error) {
    loading.remove();
    handleError(page, messages, error);
  }
}

// The card's sale line and its one way in: "Get tickets" once booking is open (also while paused:
// newcomers wait at the back), "Join the pre-queue" between prequeueOpensAt and the opening,
// nothing before that or once the operator closed the sale (the waiting room would only answer
// with an error).
function scheduleCard(schedule: Schedule, countdowns: (() => void)[]): { element: HTMLElement; tiers: HTMLElement } {
  const opensAt = Date.parse(schedule.bookingOpensAt);
  const prequeueAt = schedule.prequeueOpensAt ? Date.parse(schedule.prequeueOpensAt) : NaN;
  const saleState = schedule.saleState ?? 'OPEN';
  const state = h('p', { className: 'sale-state', 'data-sale-state': saleState });
  const action = h('a', { className: 'button', href: `/schedules/${schedule.id}/queue`, hidden: true });
  const tick = (): void => {
    const now = serverNow();
    const left = opensAt - now;
    // CLOSED takes no one new; PAUSED keeps its line and lets newcomers join at the back (nobody
    // is admitted until it resumes), so the way in stays (docs/operations.md).
    if (saleState === 'CLOSED' || (saleState === 'PAUSED' && left <= 0)) {
      state.textContent = t(saleState === 'PAUSED' ? 'salePaused' : 'saleClosed');
      state.classList.remove('open');
      const label = saleState === 'PAUSED' ? t('joinQueue') : '';
      if (action.textContent !== label) action.textContent = label;
      action.dataset.action = saleState === 'PAUSED' ? 'queue' : '';
      action.hidden = label === '';
      return;
    }
    state.textContent = left > 0 ? t('opensIn', { time: countdown(left) }) : t('bookingOpen');
    state.classList.toggle('open', left <= 0);
    const prequeueOpen = left > 0 && Number.isFinite(prequeueAt) && prequeueAt <= now;
    const label = left <= 0 ? t('joinQueue') : prequeueOpen ? t('joinPrequeue') : '';
    if (action.textContent !== label) action.textContent = label;
    action.dataset.action = left <= 0 ? 'queue' : prequeueOpen ? 'prequeue' : '';
    action.hidden = label === '';
  };
  tick();
  // Ticks while the opening may still change what the card says: also PAUSED before it (at the
  // opening the card turns to "Sale paused" with its way in, without a reload).
  if (saleState !== 'CLOSED') countdowns.push(tick);
  const tiers = h('div', { className: 'tiers' });
  const element = h(
    'li',
    { className: 'card schedule', 'data-schedule': schedule.id },
    h('h2', {}, dateTime(schedule.showAt)),
    h(
      'dl',
      {},
      h('dt', {}, t('bookingOpensAt')),
      h('dd', {}, dateTime(schedule.bookingOpensAt)),
      Number.isFinite(prequeueAt) ? h('dt', {}, t('prequeueOpensAt')) : null,
      Number.isFinite(prequeueAt) ? h('dd', {}, dateTime(schedule.prequeueOpensAt!)) : null,
    ),
    state,
    tiers,
    action,
  );
  return { element, tiers };
}

function showTiers(container: HTMLElement, tiers: readonly { price: number; sections: readonly string[] }[]): void {
  clear(container);
  if (tiers.length === 0) return;
  const list = h('ul', { className: 'tier-list' });
  tiers.forEach((tier, index) => {
    const swatch = h('span', { className: `swatch tier-${index}`, 'aria-hidden': 'true' });
    const sections = [...tier.sections].sort(naturalCompare).join(', ');
    list.appendChild(h('li', {}, swatch, `${money(tier.price)} — ${t('tierSections', { sections })}`));
  });
  append(container, [h('h3', {}, t('priceTiers')), list]);
}

// A server without priceTiers in the schedule list: the tiers from the seat map.
async function loadTiers(page: Page, scheduleId: number, container: HTMLElement): Promise<void> {
  try {
    const map = await call<SeatMapResponse>(`/schedules/${scheduleId}/seats`);
    if (page.left) return;
    showTiers(container, priceTiers(map.seats));
  } catch {
    // Tiers are a nicety on this page; the seat map shows them again.
  }
}
