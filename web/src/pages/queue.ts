// The waiting room: join (idempotent, so a reload keeps the place), then poll the status at the
// server's pollAfterMs. Admitted: keep the queue token for this schedule and go to the seats.
import { ApiError, call } from '../api';
import { append, h } from '../dom';
import { countdown } from '../format';
import { t } from '../i18n';
import { navigate, type Page } from '../router';
import { handleError, later, messageArea, queueTokenKey, requireSignIn, validId } from './common';

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
    handleError(page, messages, new ApiError(404, null, null));
    return;
  }
  const firstKey = `queueFirst:${scheduleId}`;
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
        navigate('/');
      },
    },
    t('queueLeave'),
  );
  append(page.outlet, [
    h('h1', {}, t('queueTitle')),
    h('p', { className: 'lead' }, t('queueIntro')),
    messages,
    h(
      'section',
      { className: 'queue-card', 'aria-labelledby': 'queue-heading' },
      h('h2', { id: 'queue-heading', className: 'visually-hidden' }, t('queueTitle')),
      status,
      h('dl', { className: 'queue-figures' }, h('dt', {}, t('queuePosition')), position, h('dt', {}, t('queueEta')), eta),
      h('label', { for: 'queue-progress' }, t('queueProgress')),
      progress,
      leave,
    ),
  ]);

  const show = (view: QueueView): boolean => {
    if (view.status === 'ADMITTED' && view.token) {
      sessionStorage.setItem(queueTokenKey(scheduleId), view.token);
      sessionStorage.removeItem(firstKey);
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
      const left = view.opensAt ? Math.max(0, Date.parse(view.opensAt) - Date.now()) : 0;
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

  const poll = async (enter: boolean): Promise<void> => {
    if (page.left) return;
    let view: QueueView;
    try {
      view = enter
        ? await call<QueueView>('/queue/enter', { method: 'POST', auth: true, body: { scheduleId: Number(scheduleId) } })
        : await call<QueueView>(`/queue/status?scheduleId=${scheduleId}`, { auth: true });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && !enter) return poll(true); // dropped: join again
      handleError(page, messages, error);
      if (error instanceof ApiError && (error.status === 429 || error.status >= 500)) {
        later(page, (error.retryAfterSeconds ?? 2) * 1000, () => void poll(enter));
      }
      return;
    }
    if (page.left) return;
    messages.textContent = '';
    if (!show(view)) later(page, Math.max(250, view.pollAfterMs), () => void poll(false));
  };
  await poll(true);
}
