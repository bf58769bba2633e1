import { describeError, QueueTokenError, session, SignInRequired } from '../api';
import { clear, h } from '../dom';
import { t } from '../i18n';
import { navigate, type Page } from '../router';

export function signInPath(): string {
  return `/signin?next=${encodeURIComponent(location.pathname + location.search)}`;
}

// Pages that act for a person send a signed-out reader to sign in, and back here afterwards.
export function requireSignIn(): boolean {
  if (session.token()) return true;
  navigate(signInPath(), { replace: true });
  return false;
}

// A live region for a page's messages: errors are announced as alerts, notices politely.
export function messageArea(): HTMLElement {
  return h('div', { className: 'messages', 'aria-live': 'polite' });
}

export function showMessage(area: HTMLElement, text: string, kind: 'error' | 'info' = 'error'): void {
  clear(area);
  if (!text) return;
  area.appendChild(h('p', { className: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text));
}

// The common reaction to a failed call: sign in again, re-enter the queue, or say what went wrong.
export function handleError(page: Page, area: HTMLElement, error: unknown, scheduleId?: string): void {
  if (page.left) return;
  if (error instanceof SignInRequired) {
    navigate(signInPath(), { replace: true });
    return;
  }
  if (error instanceof QueueTokenError && scheduleId) {
    sessionStorage.removeItem(queueTokenKey(scheduleId));
    showMessage(area, describeError(error));
    area.appendChild(h('p', {}, h('a', { href: `/schedules/${scheduleId}/queue` }, t('joinQueue'))));
    return;
  }
  showMessage(area, describeError(error));
}

export function queueTokenKey(scheduleId: string): string {
  return `queueToken:${scheduleId}`;
}

export function loadingText(): HTMLElement {
  return h('p', { className: 'loading', role: 'status' }, t('loading'));
}

// setInterval that stops when the page is left.
export function every(page: Page, ms: number, tick: () => void): void {
  const timer = window.setInterval(tick, ms);
  page.onLeave(() => window.clearInterval(timer));
}

export function later(page: Page, ms: number, run: () => void): void {
  const timer = window.setTimeout(run, ms);
  page.onLeave(() => window.clearTimeout(timer));
}

export function validId(value: string | undefined): value is string {
  return value !== undefined && /^[1-9][0-9]{0,17}$/.test(value);
}
