// The operator console (DESIGN.md §14, docs/operations.md): pages under /admin for accounts with
// role ADMIN. Every call goes to the admin API; the server checks the role again on each one.
import { ApiError, call, describeError, type ErrorBody } from '../api';
import { append, clear, h, uniqueId } from '../dom';
import { count, money, shortDateTime, timeOfDay } from '../format';
import { describeFailReason, t, type Key } from '../i18n';
import { navigate, type Page } from '../router';
import { every, handleError, loadingText, messageArea, requireSignIn, showMessage, validId } from './common';

interface Me {
  id: number;
  role: string;
}
interface Concert {
  id: number;
  title: string;
}
interface PublicSchedule {
  id: number;
  concertId: number;
  showAt: string;
  bookingOpensAt: string;
}
interface AdminSchedule {
  id: number;
  concertId: number;
  venueId: number | null;
  showAt: string;
  bookingOpensAt: string;
  prequeueOpensAt: string | null;
  saleState: SaleState;
  maxActive?: number | null;
  admitPerSecond?: number | null;
  maxSeatsPerUser?: number | null;
}
type SaleState = 'OPEN' | 'PAUSED' | 'CLOSED';
interface Stats {
  saleState: SaleState;
  waiting: number;
  prequeued: number;
  admitted: number;
  held: number;
  sold: number;
  revenue: number;
  admissionsPerSecond: number;
  confirmationsPerSecond: number;
  confirming: number;
  confirmationLagMs: number;
  outboxBacklog: number;
  deadLetters: number;
  at: string;
}
interface Venue {
  id: number;
  name: string;
  seats: number;
  tiers: { tier: string; price: number }[];
}
interface AdminOrder {
  orderNo: string;
  status: string;
  failReason?: string | null;
  amount: number;
  scheduleId: number;
  email: string;
  createdAt: string;
  seatNos: string[];
}
interface DeadLetter {
  id: number;
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string; // its first 16 KiB, as text
  payloadBytes: number;
  error: string;
  createdAt: string;
  replayedAt: string | null;
  discardedAt: string | null;
  discardReason: string | null;
}
interface AuditEntry {
  id: number;
  adminId: number;
  kind: 'CHANGE' | 'READ' | 'REFUSED';
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  createdAt: string;
}

const stateKey = (state: string): Key => (['OPEN', 'PAUSED', 'CLOSED'].includes(state) ? (`state${state}` as Key) : 'status');
const shortTime = (iso: string): string => shortDateTime(iso);
const seatCount = (seats: number): string => t(seats === 1 ? 'venueSeatsOne' : 'venueSeats', { seats: count(seats) });

// Signed in and ADMIN, else a sign-in redirect or the "operators only" page. Renders the console's
// navigation and returns the element the page fills.
async function adminFrame(page: Page, title: string): Promise<HTMLElement | null> {
  if (!requireSignIn()) return null;
  const loading = loadingText();
  page.outlet.appendChild(loading);
  let me: Me;
  try {
    me = await call<Me>('/me', { auth: true });
  } catch (error) {
    loading.remove();
    const area = messageArea();
    page.outlet.appendChild(area);
    handleError(page, area, error);
    return null;
  }
  if (page.left) return null;
  loading.remove();
  if (me.role !== 'ADMIN') {
    append(page.outlet, [
      h('h1', {}, t('adminOnlyTitle')),
      h('p', { className: 'message message-error', 'data-admin-denied': 'true' }, t('adminOnlyBody')),
      h('p', {}, h('a', { href: '/' }, t('backToConcerts'))),
    ]);
    return null;
  }
  const links: [string, Key][] = [
    ['/admin', 'adminHome'],
    ['/admin/venues', 'adminVenues'],
    ['/admin/schedules/new', 'adminNewSchedule'],
    ['/admin/orders', 'adminOrders'],
    ['/admin/dead-letters', 'adminDeadLetters'],
    ['/admin/audit', 'adminAudit'],
  ];
  const nav = h('nav', { className: 'admin-nav', 'aria-label': t('adminTitle') });
  for (const [href, key] of links) {
    nav.appendChild(h('a', { href, 'aria-current': location.pathname === href ? 'page' : null }, t(key)));
  }
  const body = h('div', { className: 'admin' });
  append(page.outlet, [nav, h('h1', {}, title), body]);
  return body;
}

// An accessible modal confirmation (<dialog>, focus trapped by the browser, Esc cancels).
function confirmDialog(message: string): Promise<boolean> {
  return askDialog(message).then((answer) => answer !== null);
}

// The same asking for a reason too (1–255 characters; Confirm waits for one): the reason, or null.
function reasonDialog(message: string): Promise<string | null> {
  return askDialog(message, t('reason'));
}

function askDialog(message: string, reasonLabel?: string): Promise<string | null> {
  return new Promise((resolve) => {
    const titleId = uniqueId('confirm-title');
    const textId = uniqueId('confirm-text');
    const dialog = h('dialog', { className: 'confirm-dialog', 'aria-labelledby': titleId, 'aria-describedby': textId });
    const reasonId = uniqueId('confirm-reason');
    const reason = reasonLabel ? h('input', { id: reasonId, type: 'text', maxLength: 255, required: true }) : null;
    const finish = (answer: string | null): void => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const ok = h('button', { type: 'button', className: 'primary', disabled: reason !== null, onclick: () => finish(reason ? reason.value.trim() : '') }, t('confirm'));
    reason?.addEventListener('input', () => {
      ok.disabled = reason.value.trim() === '';
    });
    reason?.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !ok.disabled) ok.click();
    });
    const cancel = h('button', { type: 'button', className: 'secondary', onclick: () => finish(null) }, t('cancel'));
    append(dialog, [
      h('h2', { id: titleId }, t('confirmTitle')),
      h('p', { id: textId }, message),
      ...(reason ? [h('div', { className: 'field' }, h('label', { for: reasonId }, reasonLabel ?? ''), reason)] : []),
      h('div', { className: 'actions' }, ok, cancel),
    ]);
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (reason ?? cancel).focus();
  });
}

// Field errors of a 400: next to the field when the page has one for it, else in the list.
function showFieldErrors(area: HTMLElement, error: unknown, fields: Record<string, HTMLElement> = {}): void {
  for (const old of document.querySelectorAll('.field-error')) old.remove();
  for (const marked of document.querySelectorAll('[aria-invalid]')) marked.removeAttribute('aria-invalid');
  if (error === null) return;
  const body: ErrorBody | null = error instanceof ApiError ? error.body : null;
  const problems = body?.errors ?? [];
  if (problems.length === 0) {
    showMessage(area, describeError(error));
    return;
  }
  const loose: string[] = [];
  for (const problem of problems) {
    const root = problem.field.split(/[.[]/)[0] ?? problem.field;
    const target = fields[problem.field] ?? fields[root];
    if (target) {
      const id = uniqueId('err');
      // Next to its field, by the field's label as the operator sees it (a tier price keeps its path).
      const label = problem.field === root && target.id ? document.querySelector(`label[for="${target.id}"]`)?.textContent : null;
      const note = h('p', { className: 'field-error', id, role: 'alert' }, `${label || problem.field}: ${problem.reason}`);
      target.after(note);
      target.setAttribute('aria-invalid', 'true');
      target.setAttribute('aria-describedby', id);
    } else {
      loose.push(`${problem.field}: ${problem.reason}`);
    }
  }
  clear(area);
  if (loose.length > 0) {
    append(area, [
      h('div', { className: 'message message-error', role: 'alert' }, h('p', {}, t('validationTitle')), h('ul', { className: 'validation' }, ...loose.map((line) => h('li', {}, line)))),
    ]);
  }
}

function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || uniqueId('f');
  control.id = id;
  const parts: (HTMLElement | null)[] = [h('label', { for: id }, label), control];
  if (hint) {
    const hintId = uniqueId('hint');
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('p', { className: 'hint', id: hintId }, hint));
  }
  return h('div', { className: 'field' }, ...parts);
}

// A wide table scrolls sideways on a phone: its box takes keyboard focus (arrow keys scroll it), so
// keyboard users can reach what does not fit. (No label of its own: the table's headers name it, and
// a label made of them would match the form fields' labels.)
function tableBox(headers: string[], body: HTMLElement): HTMLElement {
  return h(
    'div',
    { className: 'table-box', tabindex: 0 },
    h('table', { className: 'summary admin-table' }, h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))), body),
  );
}

function table(headers: string[], rows: HTMLElement[]): HTMLElement {
  return tableBox(headers, h('tbody', {}, ...rows));
}

// ---- /admin: every schedule, linking to its dashboard ---------------------------------------------

export async function renderAdminHome(page: Page): Promise<void> {
  const body = await adminFrame(page, t('adminHome'));
  if (!body) return;
  const area = messageArea();
  const loading = loadingText();
  append(body, [area, loading]);
  try {
    const concerts = await call<Concert[]>('/concerts');
    const rows: HTMLElement[] = [];
    for (const concert of concerts) {
      const schedules = await call<PublicSchedule[]>(`/concerts/${concert.id}/schedules`);
      const detailed = await Promise.all(
        schedules.map((s) => call<AdminSchedule>(`/admin/schedules/${s.id}`, { auth: true }).catch(() => null)),
      );
      schedules.forEach((schedule, i) => {
        const state = detailed[i]?.saleState ?? '';
        rows.push(
          h(
            'tr',
            {},
            h('td', {}, concert.title),
            h('td', {}, `#${schedule.id} · ${shortTime(schedule.showAt)}`),
            h('td', {}, shortTime(schedule.bookingOpensAt)),
            h('td', {}, h('span', { className: `badge state-${state.toLowerCase()}` }, state ? t(stateKey(state)) : '—')),
            h('td', {}, h('a', { href: `/admin/schedules/${schedule.id}` }, t('adminOpenDashboard'))),
          ),
        );
      });
    }
    if (page.left) return;
    loading.remove();
    if (rows.length === 0) body.appendChild(h('p', {}, t('adminSchedulesEmpty')));
    else body.appendChild(table([t('adminConcert'), t('adminSchedule'), t('bookingOpensAt'), t('adminState'), ''], rows));
  } catch (error) {
    loading.remove();
    handleError(page, area, error);
  }
}

// ---- /admin/schedules/{id}: the live sale view and its controls -----------------------------------

interface Sample {
  at: number;
  stats: Stats;
  soldPerSecond: number;
}

const keepMs = 5 * 60_000;

// x is time: the chart spans the samples kept (at least 20 s, at most 5 minutes), newest at the right.
function drawChart(canvas: HTMLCanvasElement, times: number[], values: number[], color: string): void {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || 80;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  if (!g) return;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.strokeStyle = '#d0d4dc';
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(0, height - 0.5);
  g.lineTo(width, height - 0.5);
  g.stroke();
  if (values.length === 0) return;
  const max = Math.max(1, ...values);
  const last = times[times.length - 1] ?? 0;
  const span = Math.min(keepMs, Math.max(20_000, last - (times[0] ?? last)));
  const xOf = (i: number): number => width - ((last - (times[i] ?? last)) / span) * width;
  const x0 = xOf(0);
  g.beginPath();
  values.forEach((v, i) => {
    const x = xOf(i);
    const y = height - 2 - (v / max) * (height - 6);
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  });
  g.strokeStyle = color;
  g.lineWidth = 2;
  g.stroke();
  g.lineTo(width, height);
  g.lineTo(x0, height);
  g.closePath();
  g.globalAlpha = 0.12;
  g.fillStyle = color;
  g.fill();
  g.globalAlpha = 1;
}

export async function renderDashboard(page: Page): Promise<void> {
  const id = page.params.id;
  if (!validId(id)) {
    navigate('/admin', { replace: true });
    return;
  }
  const body = await adminFrame(page, t('dashTitle', { id }));
  if (!body) return;
  const area = messageArea();
  const updated = h('p', { className: 'hint', 'aria-live': 'off' });
  const figures: [keyof Stats | 'soldPerSecond', Key, (s: Sample) => string][] = [
    ['saleState', 'adminState', (s) => t(stateKey(s.stats.saleState))],
    ['waiting', 'statWaiting', (s) => count(s.stats.waiting)],
    ['prequeued', 'statPrequeued', (s) => count(s.stats.prequeued)],
    ['admitted', 'statAdmitted', (s) => count(s.stats.admitted)],
    ['admissionsPerSecond', 'statAdmissionsPerSecond', (s) => s.stats.admissionsPerSecond.toFixed(1)],
    ['held', 'statHeld', (s) => count(s.stats.held)],
    ['sold', 'statSold', (s) => count(s.stats.sold)],
    ['soldPerSecond', 'statSoldPerSecond', (s) => s.soldPerSecond.toFixed(1)],
    ['revenue', 'statRevenue', (s) => money(s.stats.revenue)],
    ['confirmationsPerSecond', 'statConfirmationsPerSecond', (s) => s.stats.confirmationsPerSecond.toFixed(1)],
    ['confirming', 'statConfirming', (s) => count(s.stats.confirming)],
    ['confirmationLagMs', 'statLag', (s) => t('secondsValue', { value: (s.stats.confirmationLagMs / 1000).toFixed(1) })],
    ['outboxBacklog', 'statOutbox', (s) => count(s.stats.outboxBacklog)],
    ['deadLetters', 'statDeadLetters', (s) => count(s.stats.deadLetters)],
  ];
  const values = new Map<string, HTMLElement>();
  const grid = h('dl', { className: 'stat-grid' });
  for (const [name, key] of figures) {
    const dd = h('dd', { 'data-stat': name }, '—');
    values.set(name, dd);
    grid.appendChild(h('div', { className: 'stat' }, h('dt', {}, t(key)), dd));
  }
  const charts: [Key, string, (s: Sample) => number, (v: number) => string][] = [
    ['statWaiting', '#3056d3', (s) => s.stats.waiting, (v) => count(v)],
    ['statAdmissionsPerSecond', '#0f8a5f', (s) => s.stats.admissionsPerSecond, (v) => v.toFixed(1)],
    ['statSoldPerSecond', '#b5470b', (s) => s.soldPerSecond, (v) => v.toFixed(1)],
    ['statRevenue', '#7a3bb8', (s) => s.stats.revenue, (v) => money(v)],
  ];
  const chartBox = h('div', { className: 'charts' });
  const canvases = charts.map(([key]) => {
    const canvas = h('canvas', { className: 'chart', role: 'img', 'aria-label': t(key) });
    chartBox.appendChild(h('figure', { className: 'chart-box' }, h('figcaption', {}, t(key)), canvas));
    return canvas;
  });

  // Controls.
  const controlsArea = messageArea();
  const stateButton = (state: SaleState, key: Key, cls: string): HTMLButtonElement =>
    h(
      'button',
      {
        type: 'button',
        className: cls,
        'data-state': state,
        onclick: async (event: Event) => {
          // The sale is in this state already (aria-disabled, not disabled: the focus stays here).
          if ((event.currentTarget as HTMLElement).getAttribute('aria-disabled') === 'true') {
            showMessage(controlsArea, t('stateAlready', { state: t(stateKey(state)) }), 'info');
            return;
          }
          if (!(await confirmDialog(t('confirmState', { id, state: t(stateKey(state)) })))) return;
          try {
            await call(`/admin/schedules/${id}/sale-state`, { method: 'PUT', auth: true, body: { state } });
            markState(state);
            showMessage(controlsArea, t('stateChanged', { state: t(stateKey(state)) }), 'info');
            void poll();
          } catch (error) {
            handleError(page, controlsArea, error);
          }
        },
      },
      t(key),
    );
  const settingInputs: [string, Key, HTMLInputElement][] = (
    [
      ['admitPerSecond', 'admitPerSecond'],
      ['maxActive', 'maxActive'],
      ['maxSeatsPerUser', 'maxSeatsPerUser'],
    ] as [string, Key][]
  ).map(([name, key]) => [name, key, h('input', { type: 'number', min: '1', step: '1', name, inputmode: 'numeric' })]);
  const settingsForm = h(
    'form',
    {
      className: 'form settings',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        // Only what this operator changed since the values were loaded: a field left as it was is
        // not sent, so it cannot undo another operator's change made meanwhile.
        const patch: Record<string, number> = {};
        for (const [name, , input] of settingInputs) {
          if (input.value.trim() !== '' && input.value.trim() !== (input.dataset.loaded ?? '')) patch[name] = Number(input.value);
        }
        if (Object.keys(patch).length === 0) {
          showMessage(controlsArea, t('nothingToChange'));
          return;
        }
        // By the fields' labels, as the operator saw them.
        const described = settingInputs
          .filter(([name]) => name in patch)
          .map(([name, key]) => `${t(key)} ${count(patch[name]!)}`)
          .join(', ');
        if (!(await confirmDialog(t('confirmSettings', { id, settings: described })))) return;
        try {
          const result = await call<AdminSchedule>(`/admin/schedules/${id}/queue-settings`, { method: 'PATCH', auth: true, body: patch });
          fillSettings(result);
          showMessage(controlsArea, t('settingsApplied'), 'info');
        } catch (error) {
          const fields: Record<string, HTMLElement> = {};
          for (const [name, , input] of settingInputs) fields[name] = input;
          showFieldErrors(controlsArea, error, fields);
        }
      },
    },
    h('h3', {}, t('queueSettingsTitle')),
    ...settingInputs.map(([, key, input]) => field(t(key), input)),
    h('button', { type: 'submit', className: 'primary' }, t('applySettings')),
  );
  const fillSettings = (schedule: AdminSchedule): void => {
    for (const [name, , input] of settingInputs) {
      const value = (schedule as unknown as Record<string, unknown>)[name];
      input.placeholder = typeof value === 'number' ? String(value) : t('configDefault');
      input.value = typeof value === 'number' ? String(value) : '';
      input.dataset.loaded = input.value;
    }
  };
  const stateButtons = [stateButton('PAUSED', 'pause', 'secondary'), stateButton('OPEN', 'resume', 'primary'), stateButton('CLOSED', 'closeSale', 'secondary danger')];
  const controls = h(
    'section',
    { className: 'panel controls', 'aria-labelledby': 'controls-title' },
    h('h2', { id: 'controls-title' }, t('controlsTitle')),
    h('div', { className: 'actions' }, ...stateButtons),
    controlsArea,
    settingsForm,
  );
  // The button of the state the sale is in does nothing (it says so).
  const markState = (current: string): void => {
    for (const button of stateButtons) button.setAttribute('aria-disabled', String(button.dataset.state === current));
  };
  const chartsSection = h('section', { 'aria-labelledby': 'charts-title' }, h('h2', { id: 'charts-title' }, t('chartsTitle')), chartBox);
  append(body, [area, updated, grid, chartsSection, controls]);

  const samples: Sample[] = [];
  let inFlight = false;
  const poll = async (): Promise<void> => {
    if (inFlight || page.left) return;
    inFlight = true;
    try {
      const stats = await call<Stats>(`/admin/schedules/${id}/stats`, { auth: true });
      if (page.left) return;
      const now = Date.now();
      const previous = samples[samples.length - 1];
      const soldPerSecond = previous && now > previous.at ? Math.max(0, ((stats.sold - previous.stats.sold) * 1000) / (now - previous.at)) : 0;
      const sample = { at: now, stats, soldPerSecond };
      samples.push(sample);
      while (samples.length > 0 && (samples[0]?.at ?? now) < now - keepMs) samples.shift();
      for (const [name, , format] of figures) {
        const cell = values.get(name);
        if (cell) cell.textContent = format(sample);
      }
      canvases.forEach((canvas, i) => {
        const chart = charts[i];
        if (!chart) return;
        const series = samples.map(chart[2]);
        drawChart(canvas, samples.map((x) => x.at), series, chart[1]);
        const max = Math.max(0, ...series);
        canvas.setAttribute('aria-label', t('chartLabel', { name: t(chart[0]), seconds: Math.round((now - (samples[0]?.at ?? now)) / 1000), value: chart[3](chart[2](sample)), max: chart[3](max) }));
      });
      updated.textContent = t('dashUpdated', { time: timeOfDay(stats.at) });
      body.dataset.sold = String(stats.sold);
      body.dataset.samples = String(samples.length);
      body.dataset.saleState = stats.saleState;
      markState(stats.saleState);
      showMessage(area, '');
    } catch (error) {
      if (!page.left) showMessage(area, t('dashStale', { error: describeError(error) }));
    } finally {
      inFlight = false;
    }
  };
  try {
    fillSettings(await call<AdminSchedule>(`/admin/schedules/${id}`, { auth: true }));
  } catch (error) {
    // No such schedule (or no answer): no figures and no controls for it.
    for (const part of [updated, grid, chartsSection, controls]) part.remove();
    handleError(page, area, error);
    return;
  }
  void poll();
  every(page, 1000, () => void poll());
}

// ---- /admin/venues: list and import ----------------------------------------------------------------

export async function renderVenues(page: Page): Promise<void> {
  const body = await adminFrame(page, t('venuesTitle'));
  if (!body) return;
  const listBox = h('div', {});
  const area = messageArea();
  const name = h('input', { type: 'text', name: 'name', maxlength: '200', autocomplete: 'off' });
  const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv' });
  const json = h('textarea', { name: 'json', rows: '6', spellcheck: 'false' });
  const submit = h('button', { type: 'submit', className: 'primary' }, t('venueImport'));
  const form = h(
    'form',
    {
      className: 'form',
      'aria-labelledby': 'import-title',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        showFieldErrors(area, null);
        clear(area);
        submit.disabled = true;
        try {
          let created: Venue;
          const chosen = file.files?.[0];
          if (chosen) {
            const text = await chosen.text();
            created = await call<Venue>(`/admin/venues?name=${encodeURIComponent(name.value.trim())}`, { method: 'POST', auth: true, rawBody: text, contentType: 'text/csv' });
          } else if (json.value.trim()) {
            let parsed: Record<string, unknown>;
            try {
              parsed = JSON.parse(json.value) as Record<string, unknown>;
            } catch (error) {
              showMessage(area, t('badJson', { error: String((error as Error).message) }));
              return;
            }
            if (name.value.trim() && parsed.name === undefined) parsed.name = name.value.trim();
            created = await call<Venue>('/admin/venues', { method: 'POST', auth: true, body: parsed });
          } else {
            showMessage(area, t('venueNeedsLayout'));
            return;
          }
          showMessage(area, t('venueImported', { name: created.name, seats: created.seats }), 'info');
          form.reset();
          await loadList();
        } catch (error) {
          showFieldErrors(area, error, { name });
        } finally {
          submit.disabled = false;
          // The disabled button lost the focus to the page: a keyboard user goes on from the form.
          if (document.activeElement === document.body) submit.focus();
        }
      },
    },
    h('h2', { id: 'import-title' }, t('venueImportTitle')),
    field(t('venueName'), name),
    field(t('venueCsv'), file, t('venueCsvHint')),
    field(t('venueJson'), json, t('venueJsonHint')),
    submit,
  );
  const loadList = async (): Promise<void> => {
    const venues = await call<Venue[]>('/admin/venues', { auth: true });
    if (page.left) return;
    clear(listBox);
    listBox.dataset.loaded = 'true';
    if (venues.length === 0) {
      listBox.appendChild(h('p', {}, t('venuesEmpty')));
      return;
    }
    listBox.appendChild(
      table(
        ['#', t('venueName'), t('seatsCol'), t('priceTiers')],
        venues.map((v) =>
          h('tr', { 'data-venue': v.name }, h('td', {}, String(v.id)), h('td', {}, v.name), h('td', {}, seatCount(v.seats)), h('td', {}, v.tiers.map((x) => `${x.tier} ${money(x.price)}`).join(', '))),
        ),
      ),
    );
  };
  append(body, [listBox, area, form]);
  try {
    await loadList();
  } catch (error) {
    handleError(page, area, error);
  }
}

// ---- /admin/schedules/new: the schedule editor ----------------------------------------------------

// datetime-local (the reader's local time) → ISO-8601 UTC with Z.
function toUtc(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function renderScheduleNew(page: Page): Promise<void> {
  const body = await adminFrame(page, t('scheduleNewTitle'));
  if (!body) return;
  const area = messageArea();
  const loading = loadingText();
  append(body, [area, loading]);
  let concerts: Concert[];
  let venues: Venue[];
  try {
    [concerts, venues] = await Promise.all([call<Concert[]>('/concerts'), call<Venue[]>('/admin/venues', { auth: true })]);
  } catch (error) {
    loading.remove();
    handleError(page, area, error);
    return;
  }
  if (page.left) return;
  loading.remove();
  const concert = h('select', { name: 'concertId' }, h('option', { value: 'new' }, t('concertNew')), ...concerts.map((c) => h('option', { value: String(c.id) }, c.title)));
  const title = h('input', { type: 'text', name: 'title', maxlength: '200' });
  const description = h('input', { type: 'text', name: 'description', maxlength: '1000' });
  const newConcert = h('fieldset', { className: 'new-concert' }, h('legend', {}, t('concertNew')), field(t('concertTitle'), title), field(t('concertDescription'), description));
  concert.addEventListener('change', () => {
    newConcert.hidden = concert.value !== 'new';
  });
  const venue = h('select', { name: 'venueId' }, ...venues.map((v) => h('option', { value: String(v.id) }, `${v.name} (${seatCount(v.seats)})`)));
  const showAt = h('input', { type: 'datetime-local', name: 'showAt', required: true });
  const bookingOpensAt = h('input', { type: 'datetime-local', name: 'bookingOpensAt', required: true });
  const prequeueOpensAt = h('input', { type: 'datetime-local', name: 'prequeueOpensAt' });
  const pricesBox = h('fieldset', { className: 'prices' }, h('legend', {}, t('priceTiers')));
  const priceInputs = new Map<string, HTMLInputElement>();
  const fillPrices = (): void => {
    while (pricesBox.children.length > 1) pricesBox.lastElementChild?.remove();
    priceInputs.clear();
    const chosen = venues.find((v) => String(v.id) === venue.value);
    for (const tier of chosen?.tiers ?? []) {
      const input = h('input', { type: 'number', min: '0', step: '0.01', name: `price-${tier.tier}`, placeholder: String(tier.price), inputmode: 'decimal' });
      priceInputs.set(tier.tier, input);
      pricesBox.appendChild(field(t('tierPrice', { tier: tier.tier }), input, `${t('optional')} · ${money(tier.price)}`));
    }
  };
  venue.addEventListener('change', fillPrices);
  fillPrices();
  const number = (name: string): HTMLInputElement => h('input', { type: 'number', min: '1', step: '1', name, inputmode: 'numeric' });
  const maxActive = number('maxActive');
  const admitPerSecond = number('admitPerSecond');
  const maxSeatsPerUser = number('maxSeatsPerUser');
  const submit = h('button', { type: 'submit', className: 'primary' }, t('createSchedule'));
  const fields: Record<string, HTMLElement> = { concertId: concert, title, description, venueId: venue, showAt, bookingOpensAt, prequeueOpensAt, maxActive, admitPerSecond, maxSeatsPerUser, prices: pricesBox };
  const form = h(
    'form',
    {
      className: 'form schedule-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        showFieldErrors(area, null);
        clear(area);
        submit.disabled = true;
        try {
          let concertId = Number(concert.value);
          if (concert.value === 'new') {
            const created = await call<Concert>('/admin/concerts', { method: 'POST', auth: true, body: { title: title.value.trim(), description: description.value.trim() } });
            concertId = created.id;
            concerts.push(created);
            concert.appendChild(h('option', { value: String(created.id) }, created.title));
            concert.value = String(created.id);
            newConcert.hidden = true;
          }
          const payload: Record<string, unknown> = { concertId, venueId: Number(venue.value), showAt: toUtc(showAt.value), bookingOpensAt: toUtc(bookingOpensAt.value) };
          const prequeue = toUtc(prequeueOpensAt.value);
          if (prequeue) payload.prequeueOpensAt = prequeue;
          const prices: Record<string, string> = {};
          for (const [tier, input] of priceInputs) if (input.value.trim()) prices[tier] = input.value.trim();
          if (Object.keys(prices).length > 0) payload.prices = prices;
          for (const [name, input] of [['maxActive', maxActive], ['admitPerSecond', admitPerSecond], ['maxSeatsPerUser', maxSeatsPerUser]] as const) {
            if (input.value.trim()) payload[name] = Number(input.value);
          }
          const created = await call<AdminSchedule>('/admin/schedules', { method: 'POST', auth: true, body: payload });
          showMessage(area, t('scheduleCreated', { id: created.id }), 'info');
          navigate(`/admin/schedules/${created.id}`);
        } catch (error) {
          showFieldErrors(area, error, fields);
        } finally {
          submit.disabled = false;
        }
      },
    },
    field(t('concertChoose'), concert),
    newConcert,
    field(t('venue'), venue),
    field(t('showAt'), showAt, t('localTimeHint')),
    field(t('bookingOpensAt'), bookingOpensAt, t('localTimeHint')),
    field(`${t('prequeueOpensAt')} (${t('optional')})`, prequeueOpensAt, t('localTimeHint')),
    pricesBox,
    h('fieldset', {}, h('legend', {}, t('queueSettingsTitle')), field(t('maxActive'), maxActive, t('optional')), field(t('admitPerSecond'), admitPerSecond, t('optional')), field(t('maxSeatsPerUser'), maxSeatsPerUser, t('optional'))),
    submit,
  );
  body.appendChild(form);
}

// ---- /admin/orders: lookup and refund -------------------------------------------------------------

export async function renderOrders(page: Page): Promise<void> {
  const body = await adminFrame(page, t('ordersTitle'));
  if (!body) return;
  const area = messageArea();
  const results = h('div', {});
  const query = h('input', { type: 'search', name: 'q', autocomplete: 'off', value: page.query.get('q') ?? '' });
  const search = async (): Promise<void> => {
    const q = query.value.trim();
    if (!q) return;
    const param = q.includes('@') ? `email=${encodeURIComponent(q)}` : `orderNo=${encodeURIComponent(q)}`;
    // An order number is kept in the address, so a reload shows it again; an email is not (it
    // would go into the history, Referer headers and access logs).
    const address = new URL(window.location.href);
    if (q.includes('@')) address.searchParams.delete('q');
    else address.searchParams.set('q', q);
    window.history.replaceState(window.history.state, '', address);
    try {
      const orders = await call<AdminOrder[]>(`/admin/orders?${param}`, { auth: true });
      if (page.left) return;
      clear(results);
      if (orders.length === 0) {
        results.appendChild(h('p', {}, t('ordersEmpty')));
        return;
      }
      results.appendChild(
        table(
          [t('orderNo'), t('email'), t('status'), t('amount'), t('seatsCol'), t('createdAt'), ''],
          orders.map((order) =>
            h(
              'tr',
              { 'data-order': order.orderNo },
              h('td', {}, order.orderNo),
              h('td', {}, order.email),
              h('td', { 'data-status': order.status }, order.failReason ? `${order.status} (${describeFailReason(order.failReason)})` : order.status),
              h('td', {}, money(order.amount)),
              h('td', {}, order.seatNos.join(', ')),
              h('td', {}, shortTime(order.createdAt)),
              h(
                'td',
                {},
                order.status === 'PAID'
                  ? h(
                      'button',
                      {
                        type: 'button',
                        className: 'secondary danger',
                        'aria-label': `${t('refund')} ${order.orderNo}`,
                        onclick: async () => {
                          if (!(await confirmDialog(t('confirmRefund', { orderNo: order.orderNo, amount: money(order.amount) })))) return;
                          try {
                            const result = await call<{ refunded: boolean }>(`/admin/orders/${encodeURIComponent(order.orderNo)}/refund`, { method: 'POST', auth: true });
                            showMessage(area, t(result.refunded ? 'refunded' : 'alreadyRefunded', { orderNo: order.orderNo }), 'info');
                            await search();
                          } catch (error) {
                            handleError(page, area, error);
                          }
                        },
                      },
                      t('refund'),
                    )
                  : null,
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      // The results of an earlier search must not stand under this one's error (with their Refund).
      clear(results);
      handleError(page, area, error);
    }
  };
  const form = h(
    'form',
    {
      className: 'form inline-form',
      role: 'search',
      onsubmit: (event: Event) => {
        event.preventDefault();
        clear(area);
        void search();
      },
    },
    field(t('orderLookup'), query),
    h('button', { type: 'submit', className: 'primary' }, t('search')),
  );
  append(body, [form, area, results]);
  if (query.value) await search();
}

// ---- /admin/dead-letters --------------------------------------------------------------------------

export async function renderDeadLetters(page: Page): Promise<void> {
  const body = await adminFrame(page, t('deadLettersTitle'));
  if (!body) return;
  const area = messageArea();
  const listBox = h('div', {});
  // Pages of 50, newest first: `before` is the id the shown page starts below (null: the newest).
  const pageSize = 50;
  let before: number | null = null;
  let oldestShown: number | null = null;
  const older = h('button', { type: 'button', className: 'secondary', hidden: true, onclick: () => ((before = oldestShown), void load()) }, t('olderLetters'));
  const newest = h('button', { type: 'button', className: 'secondary', hidden: true, onclick: () => ((before = null), void load()) }, t('newestLetters'));
  const pending = h('input', { type: 'checkbox', id: 'dl-pending', checked: true, onchange: () => ((before = null), void load()) });
  const load = async (): Promise<void> => {
    try {
      const letters = await call<DeadLetter[]>(`/admin/dead-letters?pending=${pending.checked}&limit=${pageSize}${before === null ? '' : `&before=${before}`}`, { auth: true });
      if (page.left) return;
      clear(listBox);
      oldestShown = letters.length > 0 ? letters[letters.length - 1].id : null;
      older.hidden = letters.length < pageSize;
      newest.hidden = before === null;
      if (letters.length === 0) {
        listBox.appendChild(h('p', {}, t('deadLettersEmpty')));
        return;
      }
      listBox.appendChild(
        table(
          ['#', t('topic'), t('letterMessage'), t('error'), t('resolvedAt'), ''],
          letters.map((letter) =>
            h(
              'tr',
              {},
              h('td', {}, String(letter.id)),
              h('td', {}, `${letter.topic} [${letter.partition}] @${letter.offset}`, h('br', {}), h('span', { className: 'hint' }, t('letterReceived', { at: shortTime(letter.createdAt) }))),
              // What was received, to be looked at before a replay or a discard.
              h(
                'td',
                {},
                h(
                  'details',
                  {},
                  h('summary', {}, t('letterPayload', { bytes: count(letter.payloadBytes), key: letter.key ?? '—' })),
                  h('pre', { className: 'letter-payload' }, letter.payload),
                ),
              ),
              h('td', {}, letter.error),
              h(
                'td',
                {},
                letter.replayedAt
                  ? shortTime(letter.replayedAt)
                  : letter.discardedAt
                    ? t('discardedOn', { at: shortTime(letter.discardedAt), reason: letter.discardReason ?? '' })
                    : '—',
              ),
              h(
                'td',
                {},
                letter.replayedAt || letter.discardedAt
                  ? null
                  : h(
                      'button',
                      {
                        type: 'button',
                        className: 'secondary',
                        'aria-label': `${t('discard')} ${letter.id}`,
                        onclick: async (event: Event) => {
                          const button = event.currentTarget as HTMLButtonElement;
                          const reason = await reasonDialog(t('confirmDiscard', { id: letter.id }));
                          if (reason === null) return;
                          button.disabled = true; // one request per click
                          try {
                            await call(`/admin/dead-letters/${letter.id}/discard`, { method: 'POST', auth: true, body: { reason } });
                            showMessage(area, t('discarded', { id: letter.id }), 'info');
                            await load();
                          } catch (error) {
                            button.disabled = false;
                            handleError(page, area, error);
                          }
                        },
                      },
                      t('discard'),
                    ),
                h(
                  'button',
                  {
                    type: 'button',
                    className: 'secondary',
                    'aria-label': `${t('replay')} ${letter.id}`,
                    onclick: async () => {
                      if (!(await confirmDialog(t('confirmReplay', { id: letter.id })))) return;
                      try {
                        const r = await call<{ outcome: string; orderNo?: string; orderStatus?: string }>(`/admin/dead-letters/${letter.id}/replay`, { method: 'POST', auth: true });
                        showMessage(area, t('replayOutcome', { id: letter.id, outcome: r.outcome, orderNo: r.orderNo ?? '—', status: r.orderStatus ?? '—' }), 'info');
                        await load();
                      } catch (error) {
                        handleError(page, area, error);
                      }
                    },
                  },
                  t('replay'),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      handleError(page, area, error);
    }
  };
  append(body, [h('div', { className: 'field checkbox' }, pending, h('label', { for: 'dl-pending' }, t('pendingOnly'))), area, listBox, h('p', {}, newest, ' ', older)]);
  await load();
}

// ---- /admin/audit ---------------------------------------------------------------------------------

export async function renderAudit(page: Page): Promise<void> {
  const body = await adminFrame(page, t('auditTitle'));
  if (!body) return;
  const area = messageArea();
  const rows = h('tbody', {});
  const more = h('button', { type: 'button', className: 'secondary', hidden: true }, t('olderEntries'));
  let before: number | null = null;
  const json = (value: unknown): string => (value === null || value === undefined ? '—' : JSON.stringify(value));
  const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  // Two records: only the fields that differ ("saleState: OPEN → CLOSED"); anything else whole.
  const change = (before: unknown, after: unknown): string => {
    if (!isRecord(before) || !isRecord(after)) return `${json(before)} → ${json(after)}`;
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const changed = keys.filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
    if (changed.length === 0) return json(after);
    return changed.map((key) => `${key}: ${json(before[key])} → ${json(after[key])}`).join('; ');
  };
  // Reads are audited too (every /admin call is); the log shows the changes unless asked for both.
  const withReads = h('input', {
    type: 'checkbox',
    id: 'audit-reads',
    onchange: () => {
      listing += 1;
      before = null;
      more.hidden = true;
      clear(rows);
      void load();
    },
  });
  // Each load belongs to one listing (the checkbox starts a new one): an answer for an older
  // listing is dropped instead of being appended to the new one.
  let listing = 0;
  const load = async (): Promise<void> => {
    const mine = listing;
    more.disabled = true;
    try {
      const query = (before === null ? '' : `&before=${before}`) + (withReads.checked ? '' : '&kind=CHANGE');
      const result = await call<{ entries: AuditEntry[]; nextBefore?: number | null }>(`/admin/audit?limit=50${query}`, { auth: true });
      if (page.left || mine !== listing) return;
      for (const entry of result.entries) {
        rows.appendChild(
          h(
            'tr',
            {},
            h('td', {}, shortTime(entry.createdAt)),
            h('td', {}, String(entry.adminId)),
            h('td', {}, entry.action),
            h('td', {}, entry.target),
            h('td', { className: 'audit-change' }, h('code', { title: `${json(entry.before)} → ${json(entry.after)}` }, change(entry.before, entry.after))),
          ),
        );
      }
      if (rows.children.length === 0) rows.appendChild(h('tr', {}, h('td', { colspan: '5' }, t('auditEmpty'))));
      before = result.nextBefore ?? null;
      // The button goes at the end of the log; keyboard focus on it moves to the last row, not <body>.
      const hadFocus = document.activeElement === more;
      more.hidden = before === null;
      if (hadFocus && more.hidden) {
        const last = rows.lastElementChild as HTMLElement | null;
        if (last) {
          last.tabIndex = -1;
          last.focus();
        }
      }
    } catch (error) {
      handleError(page, area, error);
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => {
    // No older page: never load the first page again below the rows already shown.
    if (before === null) {
      more.hidden = true;
      return;
    }
    void load();
  });
  const head = [t('auditWhen'), t('auditWho'), t('auditAction'), t('auditTarget'), t('auditChange')];
  append(body, [
    h('div', { className: 'field checkbox' }, withReads, h('label', { for: 'audit-reads' }, t('auditIncludeReads'))),
    area,
    tableBox(head, rows),
    more,
  ]);
  await load();
}
