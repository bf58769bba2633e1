// The waiting room: join (idempotent, so a reload keeps the place), then poll the status at the
// server's pollAfterMs. Admitted: keep the queue token for this schedule and go to the seats.
import { ApiError, call, SignInRequired } from '../api';
import { append, h } from '../dom';
import { countdown } from '../format';
import { t } from '../i18n';
import { navigate, type Page } from '../router';
import { type PowSolution, solveChallenge } from '../pow/client';
import { handleError, later, messageArea, queueTokenKey, requireSignIn, showMessage, validId } from './common';
import { serverNow } from '../clock';

interface QueueView {
  status: 'WAITING' | 'ADMITTED' | 'PREQUEUED';
  position: number; // absent while PREQUEUED
  estimatedWaitSeconds: number; // absent while PREQUEUED
  pollAfterMs: number;
  token?: string;
  opensAt?: string; // PREQUEUED: the opening, when the fair shuffle places everyone
}

export async function renderQueue(page: Page): Promise<void> {
  const scheduleId = page.params.id;
  if (!requireSignIn()) return;
  const messages = messageArea();
  if (!validId(scheduleId)) {
    append(page.outlet, [h('h1', {}, t('queueTitle')), messages]);
    showMessage(messages, t('errScheduleNotFound'));
    messages.appendChild(h('p', {}, h('a', { href: '/' }, t('backToConcerts'))));
    return;
  }
  const firstKey = `queueFirst:${scheduleId}`;
  // The last place this tab was told, shown again at once after a reload: the first answer may be
  // a 429 (the server's pacing) and come only seconds later.
  const lastKey = `queueLast:${scheduleId}`;
  const status = h('p', { className: 'queue-status', role: 'status' }, t('queueEntering'));
  const position = h('dd', { className: 'queue-position' }, '–');
  const eta = h('dd', { className: 'queue-eta' }, '–');
  const progress = h('progress', { id: 'queue-progress', max: '100', value: '0' });
  const leave = h(
    'button',
    {
      type: 'button',
      className: 'secondary',
      onclick: async () => {
        try {
          await call(`/queue?scheduleId=${scheduleId}`, { method: 'DELETE', auth: true });
        } catch {
          // Leaving is best effort: the slot lapses by itself.
        }
        sessionStorage.removeItem(firstKey);
        sessionStorage.removeItem(lastKey);
        navigate('/');
      },
    },
    t('queueLeave'),
  );
  const intro = h('p', { className: 'lead' }, t('queueIntro'));
  const card = h(
    'section',
    { className: 'queue-card', 'aria-labelledby': 'queue-heading' },
    h('h2', { id: 'queue-heading', className: 'visually-hidden' }, t('queueTitle')),
    status,
    h('dl', { className: 'queue-figures' }, h('dt', {}, t('queuePosition')), position, h('dt', {}, t('queueEta')), eta),
    h('label', { for: 'queue-progress' }, t('queueProgress')),
    progress,
    leave,
  );
  append(page.outlet, [h('h1', {}, t('queueTitle')), intro, messages, card]);
  // Not in line after all (sale closed, not open yet, no such date, …): only the error and a way
  // back, never "You are in line" next to it.
  const notInLine = (error: unknown): void => {
    intro.hidden = true;
    card.hidden = true;
    sessionStorage.removeItem(lastKey);
    if (error instanceof ApiError && error.status === 404) showMessage(messages, t('errScheduleNotFound'));
    else handleError(page, messages, error);
    if (!page.left && messages.firstChild) messages.appendChild(h('p', {}, h('a', { href: '/' }, t('backToConcerts'))));
  };

  const show = (view: QueueView): boolean => {
    if (view.status === 'ADMITTED' && view.token) {
      sessionStorage.setItem(queueTokenKey(scheduleId), view.token);
      sessionStorage.removeItem(firstKey);
      sessionStorage.removeItem(lastKey);
      status.textContent = t('queueAdmitted');
      progress.value = 100;
      position.textContent = '0';
      eta.textContent = '–';
      navigate(`/schedules/${scheduleId}/seats`, { replace: true });
      return true;
    }
    if (view.status === 'PREQUEUED') {
      // No position before the opening's shuffle (docs/queue.md "Fair start"): the wait is the
      // time left to the opening.
      status.textContent = t('queuePrequeued');
      position.textContent = '–';
      const left = view.opensAt ? Math.max(0, Date.parse(view.opensAt) - serverNow()) : 0;
      eta.textContent = t('queueEtaValue', { time: countdown(left) });
      progress.value = 0;
      return false;
    }
    // The progress bar runs from the first position this tab saw (kept across reloads).
    const first = Math.max(Number(sessionStorage.getItem(firstKey) ?? 0), view.position);
    if (view.position > 0) sessionStorage.setItem(firstKey, String(first));
    status.textContent = t('queueWaiting');
    position.textContent = view.position > 0 ? String(view.position) : '–';
    eta.textContent = t('queueEtaValue', { time: countdown(view.estimatedWaitSeconds * 1000) });
    progress.value = first > 0 ? Math.round(((first - view.position) / first) * 100) : 0;
    return false;
  };

  // While arrivals exceed the server's threshold, joining needs a proof of work (§15): solved in a
  // Web Worker while the page says so.
  const proveWork = async (): Promise<PowSolution> => {
    status.textContent = t('queueCheckingBrowser');
    progress.value = 0;
    return solveChallenge(scheduleId, (fraction) => {
      progress.value = Math.round(fraction * 100);
    });
  };

  // Busy or unreachable (429, 5xx, no answer): said so, and asked again later (the place, if any,
  // is kept). False for any other answer.
  const retriedLater = (error: unknown, enter: boolean): boolean => {
    if (error instanceof ApiError && error.status !== 429 && error.status < 500) return false;
    const seconds = error instanceof ApiError ? (error.retryAfterSeconds ?? 2) : 2;
    // A 429 here is the server's pacing (a reload soon after the last poll): nothing for the fan to
    // do, the page asks again by itself — said as such, not as an error.
    if (error instanceof ApiError && error.status === 429) showMessage(messages, t('queueCheckingAgain', { seconds }), 'info');
    else handleError(page, messages, error);
    later(page, seconds * 1000, () => void poll(enter));
    return true;
  };
  const poll = async (enter: boolean, solution?: PowSolution): Promise<void> => {
    if (page.left) return;
    let view: QueueView;
    try {
      view = enter
        ? await call<QueueView>('/queue/enter', {
            method: 'POST',
            auth: true,
            body: { scheduleId: Number(scheduleId), ...solution },
          })
        : await call<QueueView>(`/queue/status?scheduleId=${scheduleId}`, { auth: true });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && !enter) return poll(true); // dropped: join again
      if (enter && error instanceof ApiError && ['POW_REQUIRED', 'POW_EXPIRED', 'POW_REUSED'].includes(error.code)) {
        try {
          return await poll(true, await proveWork());
        } catch (failure) {
          // A challenge that could not be fetched is tried again; a refused one ends here.
          if (!retriedLater(failure, true)) notInLine(failure);
          return;
        }
      }
      if (error instanceof SignInRequired) {
        handleError(page, messages, error);
        return;
      }
      if (!retriedLater(error, enter)) notInLine(error);
      return;
    }
    if (page.left) return;
    intro.hidden = false;
    card.hidden = false;
    messages.textContent = '';
    if (view.status !== 'ADMITTED') sessionStorage.setItem(lastKey, JSON.stringify({ ...view, token: undefined, at: Date.now() }));
    if (!show(view)) later(page, Math.max(250, view.pollAfterMs), () => void poll(false));
  };
  // A place told in the last minute is shown until the server answers — usually no better than the
  // truth, as a waiter's position only decreases (a slot that lapsed meanwhile puts the reader at the
  // back: the next answer says so); older ones are not worth showing.
  try {
    const last = JSON.parse(sessionStorage.getItem(lastKey) ?? 'null') as (QueueView & { at: number }) | null;
    const age = last ? Date.now() - last.at : Infinity;
    if (last && age >= 0 && age < 60_000 && last.status !== 'ADMITTED') {
      show({ ...last, estimatedWaitSeconds: Math.max(0, last.estimatedWaitSeconds - Math.floor(age / 1000)) });
    }
  } catch {
    sessionStorage.removeItem(lastKey);
  }
  await poll(true);
}
