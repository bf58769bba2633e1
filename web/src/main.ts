// Entry point of the fans' web app (DESIGN.md §13): the header, the routes, the language.
import { call, refreshSession, session } from './api';
import { append, clear, h } from './dom';
import { applyLang, lang, setLang, t, type Lang } from './i18n';
import { onSessionChanged } from './session-events';
import { fallback, navigate, rerender, route, start } from './router';
import { renderConcerts, renderSchedules } from './pages/catalog';
import { renderSignIn, renderSignUp } from './pages/auth';
import { renderQueue } from './pages/queue';
import { forgetSelection, renderSeats } from './pages/seats';
import { renderCheckout, renderGateway, renderOrder } from './pages/checkout';
import { renderTickets } from './pages/tickets';
import { renderAdminHome, renderAudit, renderDashboard, renderDeadLetters, renderOrders, renderScheduleNew, renderVenues } from './pages/admin';

interface Account {
  id: number;
  email: string;
  name: string;
  role?: string;
}

let account: Account | null = null;
let accountLoaded = false;

async function loadAccount(): Promise<void> {
  accountLoaded = true;
  if (!session.token()) {
    account = null;
    return;
  }
  try {
    account = await call<Account>('/me', { auth: true });
  } catch {
    account = null;
  }
}

onSessionChanged(() => {
  accountLoaded = false;
});

function renderHeader(header: HTMLElement): void {
  clear(header);
  const languageSelect = h(
    'select',
    { id: 'language', onchange: (e: Event) => switchLanguage((e.target as HTMLSelectElement).value as Lang) },
    h('option', { value: 'ko', lang: 'ko', selected: lang() === 'ko' }, '한국어'),
    h('option', { value: 'en', lang: 'en', selected: lang() === 'en' }, 'English'),
  );
  const user = h('div', { className: 'user' });
  if (account) {
    append(user, [
      h('span', { className: 'user-name' }, t('signedInAs', { name: account.name })),
      h('button', { type: 'button', className: 'link-button', onclick: () => void signOut() }, t('signOut')),
    ]);
  } else {
    const next = encodeURIComponent(location.pathname + location.search);
    append(user, [h('a', { href: `/signin?next=${next}` }, t('signIn'))]);
  }
  append(header, [
    h('a', { className: 'skip-link', href: '#main' }, t('skipToContent')),
    h('a', { className: 'brand', href: '/' }, t('appName')),
    h(
      'nav',
      { 'aria-label': t('appName') },
      h('a', { href: '/' }, t('navConcerts')),
      h('a', { href: '/me/tickets' }, t('navMyTickets')),
      account?.role === 'ADMIN' ? h('a', { href: '/admin' }, t('adminNav')) : null,
    ),
    h('div', { className: 'lang' }, h('label', { for: 'language' }, t('language')), languageSelect),
    user,
  ]);
}

async function signOut(): Promise<void> {
  try {
    await call('/auth/logout', { method: 'POST', auth: true });
  } catch {
    // Signed out locally either way.
  }
  session.signedOut();
  sessionStorage.clear();
  forgetSelection();
  account = null;
  navigate('/');
}

function switchLanguage(next: Lang): void {
  // What the reader typed into a form survives the page being drawn again in the other language:
  // choices first (a change may draw the fields that depend on them), then what was typed into
  // fields the new page left empty.
  const chosen = new Map<string, string>();
  for (const select of main.querySelectorAll<HTMLSelectElement>('form select[name]')) chosen.set(select.name, select.value);
  const typed = new Map<string, string>();
  for (const input of main.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('form input[name], form textarea[name]')) {
    if (!['file', 'checkbox', 'radio', 'hidden'].includes(input.type) && input.value !== '') typed.set(input.name, input.value);
  }
  const path = location.pathname;
  setLang(next);
  void rerender().then(() => {
    if (location.pathname !== path) return; // the reader went elsewhere meanwhile
    for (const [name, value] of chosen) {
      const select = main.querySelector<HTMLSelectElement>(`form select[name="${CSS.escape(name)}"]`);
      if (!select || select.value === value || ![...select.options].some((option) => option.value === value)) continue;
      select.value = value;
      select.dispatchEvent(new Event('change', { bubbles: true }));
    }
    for (const [name, value] of typed) {
      const input = main.querySelector<HTMLInputElement | HTMLTextAreaElement>(`form [name="${CSS.escape(name)}"]`);
      if (input && input.value === '') input.value = value;
    }
  });
  document.getElementById('language')?.focus();
}

const header = h('header', { className: 'site-header' });
const main = h('main', { id: 'main', tabindex: '-1' });
const footer = h('footer', { className: 'site-footer' });

function boot(): void {
  const root = document.getElementById('app');
  if (!root) return;
  applyLang(); // the language chosen at start is not the reader's choice: nothing is stored
  append(root, [header, main, footer]);
  route('/', renderConcerts);
  route('/concerts/{id}', renderSchedules);
  route('/signin', renderSignIn);
  route('/signup', renderSignUp);
  route('/schedules/{id}/queue', renderQueue);
  route('/schedules/{id}/seats', renderSeats);
  route('/checkout', renderCheckout);
  route('/gateway/{orderNo}', renderGateway);
  route('/orders/{orderNo}', renderOrder);
  route('/me/tickets', renderTickets);
  route('/admin', renderAdminHome);
  route('/admin/venues', renderVenues);
  route('/admin/schedules/new', renderScheduleNew);
  route('/admin/schedules/{id}', renderDashboard);
  route('/admin/orders', renderOrders);
  route('/admin/dead-letters', renderDeadLetters);
  route('/admin/audit', renderAudit);
  fallback((page) => {
    append(page.outlet, [h('h1', {}, t('notFoundTitle')), h('p', {}, t('notFoundBody'))]);
  });
  // A new tab has no access token yet, but the refresh cookie may still hold a session: asked only
  // when this browser signed in before (a visitor who never did would get a 401 on every load).
  const token = session.token();
  if (token) session.setToken(token); // (also marks the session for the next tab)
  const ready = token || !session.maybeSignedIn() ? Promise.resolve(true) : refreshSession();
  void ready.then(() => start(main, (path) => {
    document.title = t('appName');
    footer.textContent = t('footerText');
    renderHeader(header);
    if (!accountLoaded) void loadAccount().then(() => renderHeader(header));
    // Move focus to the new page for screen readers, except on the first load.
    if (path !== firstPath) main.focus({ preventScroll: true });
    firstPath = '';
  }));
}

let firstPath = location.pathname;
boot();
