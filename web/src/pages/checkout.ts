// Checkout (order summary → POST /payment/ready), the mock gateway page, and the order status.
import { ApiError, call, QueueTokenError, SignInRequired } from '../api';
import { append, clear, h } from '../dom';
import { countdown, money } from '../format';
import { describeFailReason, t, hasKey } from '../i18n';
import { navigate, type Page } from '../router';
import {
  earliest,
  holdChangedHere,
  holdFromServer,
  holdTotal,
  loadHold,
  nextPayment,
  onHoldChangedElsewhere,
  saveHold,
  withoutExpired,
  type Hold,
} from '../hold';
import { storedValue, storeValue } from '../storage';
import { every, handleError, later, loadingText, messageArea, queueTokenKey, requireSignIn, showMessage } from './common';
import { serverNow } from '../clock';

interface ReadyOrder {
  orderNo: string;
  amount: number;
  status: string;
  expiresAt: string;
}

interface Order {
  orderNo: string;
  status: 'READY' | 'CONFIRMING' | 'PAID' | 'CANCELLED' | 'FAILED';
  failReason: string | null;
  amount: number;
  scheduleId: number;
  seatNos: string[];
  expiresAt: string;
}

// One payment attempt = one Idempotency-Key. It is kept (also across a reload) until the server
// gives a definite answer, so a retried request can never create a second order.
const attemptKey = 'paymentAttempt';
interface Attempt {
  key: string;
  seats: string;
}

function attemptFor(seats: string): Attempt {
  const stored = storedValue<Attempt>(attemptKey); // unreadable: a fresh attempt
  if (stored && stored.seats === seats) return stored;
  const fresh = { key: crypto.randomUUID(), seats };
  storeValue(attemptKey, fresh);
  return fresh;
}

// The reader's admission token for the schedule while their turn lasts (GET /queue/status), kept
// for this tab; null when they are not admitted (not in line: 404; still waiting). Other errors
// (signed out, 429, the network) are thrown for the page to say.
async function admissionToken(scheduleId: string): Promise<string | null> {
  try {
    const view = await call<{ status: string; token?: string }>(`/queue/status?scheduleId=${encodeURIComponent(scheduleId)}`, { auth: true });
    if (view.status !== 'ADMITTED' || !view.token) return null;
    sessionStorage.setItem(queueTokenKey(scheduleId), view.token);
    return view.token;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export async function renderCheckout(page: Page): Promise<void> {
  if (!requireSignIn()) return;
  const messages = messageArea();
  append(page.outlet, [h('h1', {}, t('checkoutTitle')), messages]);
  if (page.query.get('cancelled')) showMessage(messages, t('gatewayCancelled'), 'info');
  if (page.query.get('changed')) showMessage(messages, t('checkoutChanged'), 'info');
  // What the server says the reader holds now: another tab may have made an order for these seats,
  // released them or held more, and a hold made elsewhere is checked out here as well. What this
  // tab remembers only when the server cannot be asked.
  const remembered = loadHold();
  const loading = loadingText();
  page.outlet.appendChild(loading);
  let fromServer: Hold | null | undefined;
  try {
    fromServer = await holdFromServer(remembered);
  } catch (error) {
    if (page.left) return;
    loading.remove();
    handleError(page, messages, error); // signed out: to sign in and back
    return;
  }
  if (page.left) return;
  loading.remove();
  if (fromServer === undefined && !remembered) {
    // Neither the server nor this tab can say what the reader holds: not "nothing to pay".
    handleError(page, messages, new Error('reservations unreadable'));
    return;
  }
  const current = fromServer === undefined ? remembered : fromServer;
  const hold = current ? withoutExpired(current) : null;
  saveHold(hold);
  if (!hold) {
    page.outlet.appendChild(h('p', {}, t('checkoutEmpty')));
    page.outlet.appendChild(h('p', {}, h('a', { href: '/' }, t('backToConcerts'))));
    // A hold made in another tab meanwhile is this reader's to pay for here too (the page is read
    // again on any change there; a release leaves it as it is).
    page.onLeave(
      onHoldChangedElsewhere(null, () => {
        if (!page.left) navigate('/checkout', { replace: true });
      }),
    );
    return;
  }
  // Seats already in a READY order and seats in none are paid separately: a `ready` naming a seat
  // of another order is refused (409 SEAT_IN_PAYMENT).
  const next = nextPayment(hold);
  const rows = next.seats.map((seat) => h('tr', {}, h('th', { scope: 'row' }, seat.seatNo), h('td', {}, money(seat.price))));
  const timer = h('p', { className: 'hold-timer', role: 'timer' });
  // The countdown of the seats this payment is for; when they end, the page shows what is left.
  const ends = earliest(hold, next.seats);
  let reshowing = false;
  const tick = (): void => {
    const left = Date.parse(ends) - serverNow();
    timer.textContent = left > 0 ? t('holdExpiresIn', { time: countdown(left) }) : t('holdExpired');
    if (left > 0) return;
    pay.disabled = true;
    if (next.rest.length > 0 && !reshowing) {
      reshowing = true;
      later(page, 1000, () => navigate('/checkout', { replace: true }));
    } else if (!reshowing) {
      // Nothing left to pay: a way back to the seats instead of a dead end.
      reshowing = true;
      timer.after(h('p', {}, h('a', { href: `/schedules/${hold.scheduleId}/seats` }, t('backToSeatMap'))));
    }
  };
  const pay = h('button', { type: 'button', className: 'primary' }, t('pay'));
  const seatNos = next.seats.map((seat) => seat.seatNo);
  // Another tab of this reader held, released or ordered seats of this schedule: the summary is read
  // again from the server (not while this tab is sending its own order, or after its hold ended).
  page.onLeave(
    onHoldChangedElsewhere(hold.scheduleId, () => {
      if (!page.left && !pay.disabled) navigate('/checkout?changed=1', { replace: true });
    }),
  );
  pay.addEventListener('click', async () => {
    // Back from the gateway without paying: the order for these seats exists, pay that one.
    if (next.orderNo) {
      navigate(`/gateway/${encodeURIComponent(next.orderNo)}`);
      return;
    }
    // A new order needs the waiting room's admission. A tab that did not go through the waiting
    // room (checkout opened directly) asks for the reader's admission token, which the queue gives
    // while their turn lasts; otherwise (a purchase ended it, or it lapsed) join the line again.
    pay.disabled = true; // before any wait: a second click starts nothing
    let queueToken = sessionStorage.getItem(queueTokenKey(hold.scheduleId));
    if (!queueToken) {
      try {
        queueToken = await admissionToken(hold.scheduleId);
      } catch (error) {
        if (page.left) return;
        pay.disabled = false;
        handleError(page, messages, error, hold.scheduleId);
        return;
      }
      if (page.left) return;
      if (!queueToken) {
        pay.disabled = false;
        handleError(page, messages, new QueueTokenError(), hold.scheduleId);
        return;
      }
    }
    // One attempt per set of seats and their current hold: the same key after a lost answer (the
    // server replays it), a new one for the same seats held again after an earlier order lapsed.
    const attempt = attemptFor(`${hold.scheduleId}:${[...seatNos].sort().join(',')}:${ends}`);
    const send = async (retries: number): Promise<void> => {
      try {
        const order = await call<ReadyOrder>('/payment/ready', {
          method: 'POST',
          auth: true,
          queueToken,
          idempotencyKey: attempt.key,
          body: { scheduleId: Number(hold.scheduleId), seatNos },
        });
        sessionStorage.removeItem(attemptKey);
        holdChangedHere(hold.scheduleId);
        // `ready` extended these seats' holds until the order expires.
        const seats = hold.seats.map((seat) =>
          seatNos.includes(seat.seatNo) ? { ...seat, orderNo: order.orderNo, expiresAt: order.expiresAt } : seat,
        );
        const ordered = { scheduleId: hold.scheduleId, seats, expiresAt: hold.expiresAt };
        ordered.expiresAt = earliest(ordered);
        saveHold(next.rest.length === 0 ? { ...ordered, orderNo: order.orderNo } : ordered);
        navigate(`/gateway/${encodeURIComponent(order.orderNo)}`);
      } catch (error) {
        const definite = error instanceof SignInRequired || error instanceof QueueTokenError;
        // A 409 with Retry-After (IDEMPOTENCY_IN_PROGRESS, or CONFLICT for contention with this
        // reader's own parallel calls) is worth the same request again, as is a 5xx.
        const transient =
          !definite &&
          (!(error instanceof ApiError) || error.code === 'IDEMPOTENCY_IN_PROGRESS' || (error.status === 409 && error.retryAfterSeconds !== null) || error.status >= 500);
        if (transient && retries > 0 && !page.left) {
          // Same attempt, same key: the server replays the first answer if it already has one.
          const wait = error instanceof ApiError ? (error.retryAfterSeconds ?? 1) * 1000 : 1000;
          later(page, wait, () => void send(retries - 1));
          return;
        }
        if (!transient) sessionStorage.removeItem(attemptKey);
        if (page.left) return;
        if (error instanceof ApiError && (error.code === 'SEAT_IN_PAYMENT' || error.code === 'CONFLICT') && !page.query.get('changed')) {
          // The seats changed since this page asked (an order made or a hold ended in another tab):
          // ask again and show what is left to pay.
          navigate('/checkout?changed=1', { replace: true });
          return;
        }
        pay.disabled = false;
        handleError(page, messages, error, hold.scheduleId);
      }
    };
    await send(3);
  });
  append(page.outlet, [
    h(
      'section',
      { className: 'panel', 'aria-labelledby': 'summary-heading' },
      h('h2', { id: 'summary-heading' }, t('orderSummary')),
      h(
        'table',
        { className: 'summary' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('seat')), h('th', { scope: 'col' }, t('price')))),
        h('tbody', {}, ...rows),
        h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, t('total')), h('td', {}, money(holdTotal(next))))),
      ),
      next.rest.length > 0
        ? h('p', { className: 'also-held' }, t('checkoutAlsoHeld', { seats: next.rest.map((seat) => seat.seatNo).join(', ') }))
        : null,
      timer,
      pay,
    ),
  ]);
  tick();
  every(page, 500, tick);
}

export async function renderGateway(page: Page): Promise<void> {
  if (!requireSignIn()) return;
  const orderNo = page.params.orderNo ?? '';
  const messages = messageArea();
  const intro = h('p', { className: 'lead' });
  const timer = h('p', { className: 'hold-timer', role: 'timer' });
  const pay = h('button', { type: 'button', className: 'primary' }, t('gatewayPay'));
  const cancel = h('button', { type: 'button', className: 'secondary' }, t('gatewayCancel'));
  append(page.outlet, [
    h(
      'section',
      { className: 'gateway', 'aria-labelledby': 'gateway-heading' },
      h('h1', { id: 'gateway-heading' }, t('gatewayTitle')),
      intro,
      timer,
      messages,
      h('div', { className: 'actions' }, pay, cancel),
    ),
  ]);
  pay.addEventListener('click', async () => {
    pay.disabled = true;
    try {
      await call('/dev/gateway/pay', { method: 'POST', auth: true, body: { orderNo } });
      navigate(`/orders/${encodeURIComponent(orderNo)}`, { replace: true });
    } catch (error) {
      pay.disabled = false;
      handleError(page, messages, error);
    }
  });
  cancel.addEventListener('click', () => navigate('/checkout?cancelled=1', { replace: true }));
  try {
    const order = await call<Order>(`/payment/${encodeURIComponent(orderNo)}`, { auth: true });
    if (page.left) return;
    if (order.status !== 'READY') {
      // Paid already (being confirmed, or done), or ended: its status page, never a second payment.
      navigate(`/orders/${encodeURIComponent(orderNo)}`, { replace: true });
      return;
    }
    intro.textContent = t('gatewayIntro', { orderNo: order.orderNo, amount: money(order.amount) });
    // A page left open past the order's end says so instead of offering to pay (the server would
    // cancel the payment with a refund anyway).
    const ends = Date.parse(order.expiresAt);
    const tick = (): void => {
      const left = ends - serverNow();
      if (Number.isNaN(left) || left > 0) {
        timer.textContent = Number.isNaN(left) ? '' : t('orderPayableFor', { time: countdown(left) });
        return;
      }
      timer.textContent = t('orderPayExpired');
      pay.disabled = true;
    };
    tick();
    every(page, 1000, tick);
  } catch (error) {
    // No such order of this reader (or it cannot be read): nothing to pay or cancel here.
    pay.remove();
    cancel.remove();
    handleError(page, messages, error);
  }
}

export async function renderOrder(page: Page): Promise<void> {
  if (!requireSignIn()) return;
  const orderNo = page.params.orderNo ?? '';
  const messages = messageArea();
  const state = h('div', { className: 'order-state', role: 'status', 'aria-live': 'polite' }, loadingText());
  append(page.outlet, [h('h1', {}, t('orderTitle', { orderNo })), messages, state]);
  // waitMs: a CONFIRMING order's answer comes when it is settled (one call, no polling).
  const poll = async (waitMs = 0): Promise<void> => {
    const started = Date.now();
    let order: Order;
    try {
      const wait = waitMs > 0 ? `?waitMs=${waitMs}` : '';
      order = await call<Order>(`/payment/${encodeURIComponent(orderNo)}${wait}`, { auth: true });
    } catch (error) {
      // No "Loading…" next to the error: the first answer never came (a later one keeps the last
      // status shown).
      state.querySelector('.loading')?.remove();
      handleError(page, messages, error);
      return;
    }
    if (page.left) return;
    clear(state);
    const statusKey = `order${order.status}`;
    append(state, [
      h('p', { className: `order-status status-${order.status.toLowerCase()}`, 'data-status': order.status }, hasKey(statusKey) ? t(statusKey) : order.status),
      h('p', {}, `${order.seatNos.join(', ')} — ${money(order.amount)}`),
    ]);
    if (order.failReason) state.appendChild(h('p', { className: 'fail-reason' }, t('failReason', { reason: describeFailReason(order.failReason) })));
    if (order.status === 'PAID' || order.status === 'CANCELLED' || order.status === 'FAILED') {
      // This order's seats are no longer held; seats held in another order stay to be paid.
      const held = loadHold();
      const rest = held && held.scheduleId === String(order.scheduleId) ? held : null;
      const left = rest ? rest.seats.filter((seat) => !order.seatNos.includes(seat.seatNo)) : [];
      // A hold on another schedule is not this order's business.
      if (rest) saveHold(left.length > 0 ? { scheduleId: rest.scheduleId, seats: left, expiresAt: earliest(rest, left) } : null);
      if (left.length > 0) state.appendChild(h('p', {}, h('a', { href: '/checkout' }, t('payTheRest', { seats: left.map((seat) => seat.seatNo).join(', ') }))));
    }
    if (order.status === 'PAID') {
      // The purchase used the admission slot (the server ended it).
      sessionStorage.removeItem(queueTokenKey(String(order.scheduleId)));
      state.appendChild(h('p', {}, h('a', { className: 'button primary', href: '/me/tickets' }, t('seeTickets'))));
      return;
    }
    if (order.status === 'CANCELLED' || order.status === 'FAILED') return;
    if (order.status === 'CONFIRMING') {
      // At least a second between calls, also when an answer did not wait (a busy or older server).
      later(page, Math.max(0, 1000 - (Date.now() - started)), () => void poll(10000));
      return;
    }
    later(page, 1000, () => void poll());
  };
  await poll();
}
