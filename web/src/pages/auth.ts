// Sign in and sign up. The access token lives in sessionStorage (this tab only); the refresh
// token is an HttpOnly cookie the server sets, which scripts never see.
import { call, session } from '../api';
import { append, h, uniqueId } from '../dom';
import { t, type Key } from '../i18n';
import { navigate, type Page } from '../router';
import { handleError, messageArea } from './common';
import { sessionChanged } from '../session-events';

interface Session {
  accessToken: string;
}

// Only same-site paths: never send the reader to another origin after signing in. The browser's
// own URL parser decides (it drops tabs and newlines, so "/\t/evil.example" is "//evil.example");
// what it resolves to must be this origin, and the path kept may not start with "//" either
// (dot segments resolve away: "/..//evil.example" has the path "//evil.example", another host
// once used as a link).
export function sameSitePath(next: string | null, origin: string = location.origin): string {
  if (next === null || !next.startsWith('/')) return '/';
  try {
    const url = new URL(next, origin);
    if (url.origin !== origin || url.pathname.startsWith('//')) return '/';
    return url.pathname + url.search + url.hash;
  } catch {
    return '/';
  }
}

function nextPath(page: Page): string {
  return sameSitePath(page.query.get('next'));
}

function field(labelKey: Key, name: string, type: string, autocomplete: string, hint?: Key): { wrap: HTMLElement; input: HTMLInputElement } {
  const id = uniqueId(name);
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h('input', { id, name, type, autocomplete, required: true, 'aria-describedby': hintId });
  const wrap = h(
    'div',
    { className: 'field' },
    h('label', { for: id }, t(labelKey)),
    input,
    hint ? h('p', { id: hintId, className: 'hint' }, t(hint)) : null,
  );
  return { wrap, input };
}

async function signIn(email: string, password: string): Promise<void> {
  const result = await call<Session>('/auth/login', { method: 'POST', body: { email, password } });
  session.setToken(result.accessToken);
  // Whatever this tab kept was for whoever was signed in before: admissions, a hold, an attempt.
  for (const key of Object.keys(sessionStorage)) {
    if (key.startsWith('queueToken:') || key === 'hold' || key === 'paymentAttempt' || key === 'seatSelection') sessionStorage.removeItem(key);
  }
  sessionChanged();
}

export function renderSignIn(page: Page): void {
  const messages = messageArea();
  const email = field('email', 'email', 'email', 'username');
  const password = field('password', 'password', 'password', 'current-password');
  const submit = h('button', { type: 'submit', className: 'primary' }, t('signIn'));
  const form = h('form', { className: 'form', novalidate: true }, email.wrap, password.wrap, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await signIn(email.input.value.trim(), password.input.value);
      navigate(nextPath(page), { replace: true });
    } catch (error) {
      submit.disabled = false;
      handleError(page, messages, error);
    }
  });
  const signUpLink = `/signup?next=${encodeURIComponent(nextPath(page))}`;
  append(page.outlet, [
    h('h1', {}, t('signInTitle')),
    // Reached with a session (Back after a purchase, a bookmark): say so and offer the way on; the
    // form stays for signing in as someone else.
    session.token()
      ? h('p', {}, `${t('alreadySignedIn')} `, h('a', { href: nextPath(page) }, t('continueSignedIn')))
      : page.query.has('next')
        ? h('p', {}, t('signInFirst'))
        : null,
    messages,
    form,
    h('p', {}, `${t('noAccount')} `, h('a', { href: signUpLink }, t('signUp'))),
  ]);
}

export function renderSignUp(page: Page): void {
  const messages = messageArea();
  const name = field('name', 'name', 'text', 'name');
  const email = field('email', 'email', 'email', 'email');
  const password = field('password', 'password', 'password', 'new-password', 'passwordHint');
  const submit = h('button', { type: 'submit', className: 'primary' }, t('signUp'));
  const form = h('form', { className: 'form', novalidate: true }, name.wrap, email.wrap, password.wrap, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const emailValue = email.input.value.trim();
    try {
      await call('/auth/signup', {
        method: 'POST',
        body: { email: emailValue, password: password.input.value, name: name.input.value.trim() },
      });
      await signIn(emailValue, password.input.value);
      navigate(nextPath(page), { replace: true });
    } catch (error) {
      submit.disabled = false;
      handleError(page, messages, error);
    }
  });
  const signInLink = `/signin?next=${encodeURIComponent(nextPath(page))}`;
  append(page.outlet, [
    h('h1', {}, t('signUpTitle')),
    messages,
    form,
    h('p', {}, `${t('haveAccount')} `, h('a', { href: signInLink }, t('signIn'))),
  ]);
}
