// My tickets: one card per ticket with its QR code (the signed payload a gate scans).
import { call } from '../api';
import { append, h } from '../dom';
import { dateTime, money } from '../format';
import { t } from '../i18n';
import type { Page } from '../router';
import { qrSvg } from '../qr';
import { handleError, loadingText, messageArea, requireSignIn } from './common';

interface Ticket {
  ticketId: string;
  orderNo: string;
  scheduleId: number;
  concertTitle: string;
  showAt: string;
  seatNo: string;
  section: string;
  price: number;
  status: 'VALID' | 'REVOKED';
  // null for a REVOKED ticket: it admits no one, so it has no code to show (docs/tickets.md).
  qrPayload: string | null;
}

export async function renderTickets(page: Page): Promise<void> {
  if (!requireSignIn()) return;
  const messages = messageArea();
  const loading = loadingText();
  const list = h('ul', { className: 'tickets' });
  append(page.outlet, [h('h1', {}, t('ticketsTitle')), messages, loading, list]);
  try {
    const result = await call<{ tickets: Ticket[] }>('/me/tickets', { auth: true });
    if (page.left) return;
    loading.remove();
    if (result.tickets.length === 0) list.replaceWith(h('p', {}, t('ticketsEmpty')));
    for (const ticket of result.tickets) {
      const valid = ticket.status === 'VALID';
      list.appendChild(
        h(
          'li',
          { className: `ticket${valid ? '' : ' revoked'}`, 'data-seat': ticket.seatNo },
          h(
            'div',
            { className: 'ticket-info' },
            h('h2', {}, ticket.concertTitle),
            h('p', {}, dateTime(ticket.showAt)),
            h('p', { className: 'ticket-seat' }, `${t('seat')} ${ticket.seatNo} · ${money(ticket.price)}`),
            h('p', { className: `badge ${valid ? 'ok' : 'bad'}` }, valid ? t('ticketValid') : t('ticketRevoked')),
          ),
          valid && ticket.qrPayload ? qrSvg(ticket.qrPayload, t('ticketQr', { seat: ticket.seatNo })) : null,
        ),
      );
    }
  } catch (error) {
    loading.remove();
    handleError(page, messages, error);
  }
}
