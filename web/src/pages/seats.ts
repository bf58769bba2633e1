// The seat map page: draw the venue, follow live changes, select up to the limit, hold, release,
// watch the hold's countdown, go to checkout.
import { ApiError, call } from '../api';
import { append, clear, h } from '../dom';
import { countdown, money } from '../format';
import { t, type Key } from '../i18n';
import { navigate, type Page } from '../router';
import {
  earliest,
  heldOnServer,
  holdChangedHere,
  holdFrom,
  loadHold,
  onHoldChangedElsewhere,
  saveHold,
  withoutExpired,
  type Hold,
  type MyReservation,
  type SeatLayoutResponse,
} from '../hold';
import { SeatFeed, type SeatChange } from '../seatfeed';
import { heldColour, mineColour, SeatMapCanvas, selectedColour, soldColour, tierColours } from '../seatmap';
import { SeatModel, statusCodes, type SeatEntry } from '../seatmodel';
import { storedValue, storeValue } from '../storage';
import { every, handleError, loadingText, messageArea, queueTokenKey, requireSignIn, showMessage, validId } from './common';
import { serverNow } from '../clock';

// hold.max-seats-per-user's default; the server has the last word (409 HOLD_LIMIT_EXCEEDED names it).
const maxSeats = 4;

// The seats chosen but not held yet, kept in this tab's storage so that re-rendering the page (a
// language switch, a reload, coming back from another page of this tab) does not drop the choice.
const selectionKey = 'seatSelection';
interface KeptSelection {
  scheduleId: string;
  seatNos: string[];
}
function keptSelection(): KeptSelection | null {
  return storedValue<KeptSelection>(selectionKey);
}
function keepSelection(selection: KeptSelection): void {
  storeValue(selectionKey, selection.seatNos.length > 0 ? selection : null);
}
// Sign-out (and a sign-in) forgets it: the next person in this tab starts with nothing selected.
export function forgetSelection(): void {
  storeValue(selectionKey, null);
}

declare global {
  interface Window {
    __seatMapRenderMs?: number;
    __seatMapDrawMs?: number;
    __seatMap?: {
      seatPoint(seatNo: string): { x: number; y: number } | null;
      status(seatNo: string): string | null;
      held(): number;
    };
  }
}

// How long the map waits for the stream's snapshot before it reads GET /schedules/{id}/seats.
const firstStatusesMs = 3000;

// Resolves when `done()` holds, checked every 20 ms, or after `ms` in any case.
function until(done: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const check = (): void => {
      if (done() || Date.now() - started >= ms) resolve();
      else window.setTimeout(check, 20);
    };
    check();
  });
}

export async function renderSeats(page: Page): Promise<void> {
  const scheduleId = page.params.id;
  if (!requireSignIn()) return;
  const messages = messageArea();
  const heading = h('h1', {}, t('seatsTitle'));
  if (!validId(scheduleId)) {
    append(page.outlet, [heading, messages]);
    handleError(page, messages, new ApiError(404, null, null));
    return;
  }
  const queueToken = sessionStorage.getItem(queueTokenKey(scheduleId));
  if (!queueToken) {
    navigate(`/schedules/${scheduleId}/queue`, { replace: true });
    return;
  }
  const loading = loadingText();
  append(page.outlet, [heading, messages, loading]);

  performance.clearMarks();
  performance.mark('seatmap:start');
  // The statuses come from the live stream, opened first: its snapshot is made once and shared by
  // everyone on the map, where GET /schedules/{id}/seats reads the database for each reader. What
  // the feed says before the map is drawn is kept, in order, and applied to the new model.
  const early: SeatChange[][] = [];
  let hasStatuses = false;
  let deliver: ((seats: SeatChange[]) => void) | null = null;
  let feedMode: 'live' | 'polling' | null = null;
  let showMode = (): void => {};
  const receive = (seats: SeatChange[], full: boolean): void => {
    if (deliver) {
      deliver(seats);
    } else if (full) {
      early.length = 0; // every seat: what came before it is superseded
      early.push(seats);
    } else if (hasStatuses) {
      early.push(seats); // a delta before any snapshot has nothing to apply to
    }
    if (full) hasStatuses = true;
  };
  const feed = new SeatFeed(scheduleId, {
    snapshot: (seats) => receive(seats, true),
    changes: (changes) => receive(changes, false),
    mode: (mode) => {
      feedMode = mode;
      showMode();
      // No stream: read the map now rather than at the first poll.
      if (mode === 'polling' && !hasStatuses) void feed.refresh();
    },
  });
  feed.start();
  page.onLeave(() => feed.stop());
  let layout: SeatLayoutResponse;
  let heldHere: MyReservation[] | null;
  try {
    [layout, heldHere] = await Promise.all([call<SeatLayoutResponse>(`/schedules/${scheduleId}/layout`), heldOnServer(scheduleId)]);
    // A stream that neither answers nor fails (a buffering proxy): the map is read once instead.
    if (!hasStatuses) await until(() => hasStatuses || page.left, firstStatusesMs);
    if (!hasStatuses && !page.left) {
      await feed.refresh();
      feed.pollUntilHeard(); // the stream may stay silent: the map must not
    }
    if (!hasStatuses && !page.left) throw new Error('no seat statuses');
  } catch (error) {
    feed.stop(); // no map to keep current: no polls, no stream retries, nothing buffered
    if (page.left) return;
    loading.remove();
    handleError(page, messages, error, scheduleId);
    return;
  }
  if (page.left) return;
  loading.remove();
  performance.mark('seatmap:data');
  const seatEntries: SeatEntry[] = layout.seats.map((seat) => ({ ...seat, status: 'AVAILABLE' }));
  const model = new SeatModel(seatEntries, page.outlet.clientWidth < 600 ? 2 : 5);
  for (const changes of early.splice(0)) {
    for (const change of changes) {
      const index = model.indexOf.get(change.seatNo);
      const code = statusCodes[change.status];
      if (index !== undefined && code !== undefined) model.status[index] = code;
    }
  }
  const sectionOfSeat = new Map(layout.seats.map((seat) => [seat.seatNo, seat.section]));

  const announcer = h('p', { className: 'visually-hidden', 'aria-live': 'polite', id: 'seat-announcer' });
  const liveBadge = h('span', { className: 'live-badge', role: 'status' });
  const selectionPanel = h('section', { className: 'panel selection', 'aria-labelledby': 'selection-heading' });
  const holdPanel = h('section', { className: 'panel hold', 'aria-labelledby': 'hold-heading' });
  const remembered = loadHold();
  let hold: Hold | null = remembered && remembered.scheduleId === scheduleId ? withoutExpired(remembered) : null;
  if (remembered && !hold) saveHold(null);
  // The server's word on what the reader holds here: a hold made in another tab (or before this
  // tab's storage was cleared) is theirs in this one too, and one released elsewhere is gone.
  // A held seat's section and price, from the map (for a hold rebuilt from the server's rows).
  const seatInfo = (seatNo: string): { section: string; price: number } | undefined => {
    const index = model.indexOf.get(seatNo);
    return index === undefined ? undefined : { section: model.sectionName(index), price: model.prices[index]! };
  };
  if (heldHere) {
    hold = holdFrom(scheduleId, heldHere, seatInfo);
    saveHold(hold);
  }

  const statusText = (index: number): string => {
    if (map.mine.has(index)) return t('statusMine');
    if (map.selected.has(index)) return t('statusSelected');
    const keys: Key[] = ['statusAvailable', 'statusHeld', 'statusSold'];
    return t(keys[model.status[index]!] ?? 'statusHeld');
  };
  const describeSeat = (index: number): string =>
    t('seatAnnounce', {
      section: model.sectionName(index),
      number: model.numbers[index]!,
      price: money(model.prices[index]!),
      status: statusText(index),
    });

  // A short name ("Seat map") and the keyboard instructions as its description: a name that
  // mentions sections and seats would also answer for the picker's "Section" and "Seat" fields.
  const help = h('p', { className: 'visually-hidden', id: 'seat-map-help' }, t('seatMapLabel'));
  const map: SeatMapCanvas = new SeatMapCanvas(model, t('seatMapName'), {
    toggle: (index) => toggle(index),
    focus: (index) => {
      announcer.textContent = describeSeat(index);
    },
  }, t('stage'));

  const toggle = (index: number): void => {
    if (map.mine.has(index)) return;
    if (map.selected.has(index)) {
      map.selected.delete(index);
    } else if (model.status[index] !== statusCodes.AVAILABLE) {
      announcer.textContent = `${describeSeat(index)}. ${t('seatTaken')}`;
      showMessage(messages, t('seatTaken'), 'info');
      return;
    } else if (map.selected.size + map.mine.size >= maxSeats) {
      showMessage(messages, t('selectionLimit', { max: maxSeats }), 'info');
      return;
    } else {
      map.selected.add(index);
    }
    showMessage(messages, '');
    map.redrawSeats([index]);
    announcer.textContent = describeSeat(index);
    renderSelection();
    syncPicker();
  };

  // Seats of a hold request still on its way: the feed may report them HELD before the answer
  // does, and that is us, not someone else.
  const holding = new Set<number>();
  // Statuses from the feed: apply, repaint only the seats that changed.
  const apply = (changes: SeatChange[]): void => {
    const changed: number[] = [];
    const lost: number[] = [];
    for (const change of changes) {
      const index = model.indexOf.get(change.seatNo);
      const code = statusCodes[change.status];
      if (index === undefined || code === undefined || model.status[index] === code) continue;
      model.status[index] = code;
      // A seat of this reader's hold that is no longer HELD: released, bought or ended elsewhere
      // (another tab), or a late report of what it was before this tab held it. The server says.
      if (map.mine.has(index) && code !== statusCodes.HELD) mineChanged = true;
      // Someone else took a seat we had only selected: it cannot stay selected, and we say so.
      if (code !== statusCodes.AVAILABLE && !holding.has(index) && map.selected.delete(index)) lost.push(index);
      changed.push(index);
    }
    if (changed.length > 0) {
      map.redrawSeats(changed);
      syncPicker();
    }
    if (lost.length > 0) {
      renderSelection();
      const notice = t('seatsTakenDeselected', { seats: seatsOf(lost).join(', ') });
      showMessage(messages, notice, 'info'); // a live region already: said once, not twice
    }
    if (mineChanged) {
      mineChanged = false;
      scheduleResync();
    }
  };
  let mineChanged = false;
  let resyncTimer = 0;
  let resyncs = 0; // a newer re-read makes an older one's answer moot
  // This tab's own hold and release calls: a re-read that overlaps one may predate its effect.
  let bookingCalls = 0;
  let bookingEpoch = 0;
  const bookingCall = async <T>(run: () => Promise<T>): Promise<T> => {
    bookingCalls += 1;
    bookingEpoch += 1;
    try {
      return await run();
    } finally {
      bookingCalls -= 1;
      bookingEpoch += 1;
    }
  };
  const scheduleResync = (ms = 300, retried = false): void => {
    window.clearTimeout(resyncTimer);
    resyncTimer = window.setTimeout(() => void resyncHold(retried), ms);
  };
  page.onLeave(() => window.clearTimeout(resyncTimer));
  // The hold as the server has it now, after the stream reported a change to one of its seats.
  const resyncHold = async (retried: boolean): Promise<void> => {
    if (bookingCalls > 0) return scheduleResync();
    const run = ++resyncs;
    const epoch = bookingEpoch;
    let rows: MyReservation[] | null;
    try {
      rows = await heldOnServer(scheduleId);
    } catch {
      rows = null; // signed out meanwhile: the next call says so
    }
    if (page.left || run !== resyncs) return;
    if (bookingCalls > 0 || epoch !== bookingEpoch) return scheduleResync();
    if (!rows) {
      if (!retried) scheduleResync(1000, true);
      return;
    }
    const now = holdFrom(scheduleId, rows, seatInfo);
    const keep = new Set<number>();
    for (const seat of now?.seats ?? []) {
      const index = model.indexOf.get(seat.seatNo);
      if (index !== undefined) keep.add(index);
    }
    const changed = [...map.mine].filter((index) => !keep.has(index));
    for (const index of changed) map.mine.delete(index);
    for (const index of keep) {
      if (map.mine.has(index)) continue;
      map.mine.add(index);
      map.selected.delete(index);
      changed.push(index);
    }
    const releasable = (x: Hold | null): boolean => !!x && x.seats.some((seat) => !(seat.orderNo ?? x.orderNo));
    const panelChanged = changed.length > 0 || releasable(hold) !== releasable(now);
    hold = now;
    saveHold(hold);
    if (!panelChanged) return; // the countdown reads `hold`; focus stays where it is
    map.redrawSeats(changed);
    renderHold();
    renderSelection();
    syncPicker();
  };
  // Another tab of this reader held, released or ordered seats here: ask the server at once.
  page.onLeave(onHoldChangedElsewhere(scheduleId, () => scheduleResync(50)));
  deliver = apply;
  showMode = (): void => {
    if (!feedMode) return;
    liveBadge.textContent = feedMode === 'live' ? t('liveUpdates') : t('liveFallback');
    liveBadge.dataset.mode = feedMode;
  };
  showMode();
  page.onLeave(() => map.destroy());

  // The alternative to the canvas for screen readers and anyone who knows their seat's name.
  const sectionSelect = h('select', { id: 'pick-section' });
  const seatSelect = h('select', { id: 'pick-seat' });
  for (const section of model.sections) sectionSelect.appendChild(h('option', { value: section.name }, section.name));
  const fillSeats = (): void => {
    const section = model.sections.find((s) => s.name === sectionSelect.value) ?? model.sections[0];
    const keep = seatSelect.value;
    clear(seatSelect);
    if (!section) return;
    for (const index of section.seats) {
      seatSelect.appendChild(
        h('option', { value: model.seatNos[index]! }, `${model.numbers[index]} — ${statusText(index)}`),
      );
    }
    if (keep && model.indexOf.has(keep) && sectionOfSeat.get(keep) === section.name) seatSelect.value = keep;
  };
  let pickerDirty = false;
  let pickerRebuild: number | undefined;
  const syncPicker = (): void => {
    // Rebuilding 500 options per delta is wasteful: mark dirty and rebuild at most twice a second
    // while nobody is in the picker (what it lists stays current for anyone reading it), or when
    // it is used — never under the hands of someone choosing in it.
    pickerDirty = true;
    if (pickerRebuild !== undefined) return;
    pickerRebuild = window.setTimeout(() => {
      pickerRebuild = undefined;
      if (document.activeElement !== seatSelect && document.activeElement !== sectionSelect) refreshPicker();
    }, 500);
  };
  sectionSelect.addEventListener('change', fillSeats);
  const refreshPicker = (): void => {
    if (!pickerDirty) return;
    pickerDirty = false;
    fillSeats();
  };
  seatSelect.addEventListener('focus', refreshPicker);
  sectionSelect.addEventListener('focus', refreshPicker);
  fillSeats();
  const picker = h(
    'form',
    {
      className: 'picker',
      'aria-labelledby': 'picker-heading',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const index = model.indexOf.get(seatSelect.value);
        if (index !== undefined) toggle(index);
        refreshPicker();
      },
    },
    h('h2', { id: 'picker-heading' }, t('pickTitle')),
    h('div', { className: 'field' }, h('label', { for: 'pick-section' }, t('pickBySection')), sectionSelect),
    h('div', { className: 'field' }, h('label', { for: 'pick-seat' }, t('pickBySeat')), seatSelect),
    h('button', { type: 'submit', className: 'secondary' }, t('pickToggle')),
  );

  const legendItem = (colour: string, label: string, outlined = false): HTMLElement => {
    const swatch = h('span', { className: outlined ? 'swatch outlined' : 'swatch', 'aria-hidden': 'true' });
    swatch.style.backgroundColor = colour;
    return h('li', {}, swatch, label);
  };
  const legend = h(
    'ul',
    { className: 'legend', 'aria-label': t('legend') },
    ...model.tiers.map((tier) =>
      legendItem(tierColours[tier.index % tierColours.length]!, `${money(tier.price)} (${tier.sections.join(', ')}) — ${t('statusAvailable')}`),
    ),
    legendItem(heldColour, t('statusHeld')),
    legendItem(soldColour, t('statusSold')),
    legendItem(selectedColour, t('statusSelected'), true),
    legendItem(mineColour, t('statusMine'), true),
  );
  const zoomControls = h(
    'div',
    { className: 'zoom', role: 'group', 'aria-label': t('zoomIn') },
    h('button', { type: 'button', 'aria-label': t('zoomIn'), onclick: () => map.zoomBy(1.5) }, '+'),
    h('button', { type: 'button', 'aria-label': t('zoomOut'), onclick: () => map.zoomBy(1 / 1.5) }, '−'),
    h('button', { type: 'button', onclick: () => map.resetZoom() }, t('zoomReset')),
  );
  map.canvas.setAttribute('aria-describedby', 'seat-map-help');
  const canvasBox = h('div', { className: 'canvas-box' }, map.canvas, help);
  append(page.outlet, [
    h('div', { className: 'seat-toolbar' }, liveBadge, zoomControls),
    canvasBox,
    announcer,
    legend,
    h('div', { className: 'seat-panels' }, selectionPanel, holdPanel, picker),
  ]);
  map.attach();
  // First render = data fetched, parsed, laid out and painted (measured to the next frame).
  requestAnimationFrame(() => {
    performance.mark('seatmap:drawn');
    window.__seatMapRenderMs = performance.measure('seatmap:first-render', 'seatmap:start', 'seatmap:drawn').duration;
    window.__seatMapDrawMs = performance.measure('seatmap:layout-draw', 'seatmap:data', 'seatmap:drawn').duration;
  });
  window.__seatMap = {
    seatPoint: (seatNo) => {
      const index = model.indexOf.get(seatNo);
      return index === undefined ? null : map.pointOf(index);
    },
    status: (seatNo) => {
      const index = model.indexOf.get(seatNo);
      if (index === undefined) return null;
      if (map.mine.has(index)) return 'MINE';
      if (map.selected.has(index)) return 'SELECTED';
      return ['AVAILABLE', 'HELD', 'SOLD'][model.status[index]!] ?? null;
    },
    held: () => map.mine.size,
  };
  page.onLeave(() => delete window.__seatMap);

  const seatsOf = (indices: Iterable<number>): string[] => [...indices].map((i) => model.seatNos[i]!);

  function renderSelection(): void {
    clear(selectionPanel);
    const chosen = [...map.selected];
    keepSelection({ scheduleId, seatNos: seatsOf(chosen) });
    append(selectionPanel, [h('h2', { id: 'selection-heading', tabindex: '-1' }, t('selectedTitle'))]);
    if (chosen.length === 0) {
      // Seats held count against the limit (so do seats bought, which the server counts: §5).
      const left = maxSeats - map.mine.size;
      selectionPanel.appendChild(
        h('p', {}, left > 0 ? t('selectedNone', { max: left }) : t('selectionLimit', { max: maxSeats })),
      );
      return;
    }
    const list = h('ul', { className: 'seat-list' });
    let total = 0;
    for (const index of chosen) {
      total += model.prices[index]!;
      list.appendChild(h('li', {}, h('span', {}, model.seatNos[index]!), h('span', {}, money(model.prices[index]!))));
    }
    const holdButton = h('button', { type: 'button', className: 'primary', onclick: () => void holdSelected(holdButton) }, t('holdSeats'));
    append(selectionPanel, [list, h('p', { className: 'total' }, `${t('total')}: ${money(total)}`), holdButton]);
  }

  async function holdSelected(button: HTMLButtonElement): Promise<void> {
    const wanted = seatsOf(map.selected);
    if (wanted.length === 0) return;
    button.disabled = true;
    const asked = [...map.selected];
    for (const index of asked) holding.add(index);
    try {
      const result = await bookingCall(() =>
        call<{ seatNos: string[]; expiresAt: string }>('/tickets/hold', {
          method: 'POST',
          auth: true,
          queueToken,
          body: { scheduleId: Number(scheduleId), seatNos: wanted },
        }),
      );
      holdChangedHere(scheduleId);
      if (page.left) return;
      const indices = result.seatNos.map((seatNo) => model.indexOf.get(seatNo)).filter((i): i is number => i !== undefined);
      for (const index of indices) {
        map.selected.delete(index);
        map.mine.add(index);
        model.status[index] = statusCodes.HELD;
      }
      // The seats held before keep the order they are in (checkout pays it separately) and their end.
      const before = hold;
      const previous = (before?.seats ?? []).map((seat) => ({
        ...seat,
        orderNo: seat.orderNo ?? before?.orderNo,
        expiresAt: seat.expiresAt ?? before?.expiresAt,
      }));
      const added = indices.map((i) => ({
        seatNo: model.seatNos[i]!,
        section: model.sectionName(i),
        price: model.prices[i]!,
        expiresAt: result.expiresAt,
      }));
      hold = { scheduleId, expiresAt: result.expiresAt, seats: [...previous, ...added] };
      hold.expiresAt = earliest(hold);
      saveHold(hold);
      map.redrawSeats(indices);
      showMessage(messages, '');
      renderSelection();
      renderHold();
      announcer.textContent = t('seatsHeldAnnounce', { seats: result.seatNos.join(', ') });
      document.getElementById('hold-heading')?.focus();
    } catch (error) {
      if (page.left) return;
      button.disabled = false;
      if (error instanceof ApiError && error.code === 'SEAT_ALREADY_HELD') {
        // Name the taken seats and show them taken now, without waiting for the live update.
        const taken = (error.body?.conflictingSeats ?? [])
          .map((seatNo) => model.indexOf.get(seatNo))
          .filter((i): i is number => i !== undefined && !map.mine.has(i));
        for (const index of taken) {
          map.selected.delete(index);
          model.status[index] = statusCodes.HELD;
        }
        map.redrawSeats(taken);
        renderSelection();
      }
      handleError(page, messages, error, scheduleId);
      // Keep a keyboard reader where they were: the button (disabled meanwhile, which drops focus
      // to the page's start), or the selection's heading when the panel was drawn again.
      if (!page.left) {
        if (button.isConnected) button.focus();
        else document.getElementById('selection-heading')?.focus();
      }
    } finally {
      for (const index of asked) holding.delete(index);
    }
  }

  function renderHold(): void {
    clear(holdPanel);
    if (!hold) {
      holdPanel.hidden = true;
      return;
    }
    holdPanel.hidden = false;
    const timer = h('p', { className: 'hold-timer', role: 'timer', 'aria-live': 'off' });
    const list = h('ul', { className: 'seat-list' });
    for (const seat of hold.seats) list.appendChild(h('li', {}, h('span', {}, seat.seatNo), h('span', {}, money(seat.price))));
    // Seats in an order cannot be released (409 SEAT_IN_PAYMENT): no button when all of them are.
    const current = hold;
    const releasable = current.seats.some((seat) => !(seat.orderNo ?? current.orderNo));
    const release = releasable
      ? h('button', { type: 'button', className: 'secondary', onclick: () => void releaseHold(release!) }, t('release'))
      : null;
    append(holdPanel, [
      h('h2', { id: 'hold-heading', tabindex: '-1' }, t('holdTitle')),
      list,
      timer,
      h('div', { className: 'actions' }, h('a', { className: 'button primary', href: '/checkout' }, t('checkout')), release),
    ]);
    const tick = (): void => {
      if (!hold) return;
      const left = Date.parse(hold.expiresAt) - serverNow();
      if (left <= 0) {
        holdExpired();
        return;
      }
      timer.textContent = t('holdExpiresIn', { time: countdown(left) });
    };
    tick();
  }

  // Takes `seatNos` out of the hold and off "mine" on the map.
  function dropHold(status: number, seatNos: string[]): void {
    const indices = seatNos.map((seatNo) => model.indexOf.get(seatNo)).filter((i): i is number => i !== undefined);
    for (const index of indices) {
      map.mine.delete(index);
      model.status[index] = status;
    }
    const left = hold ? hold.seats.filter((seat) => !seatNos.includes(seat.seatNo)) : [];
    hold = hold && left.length > 0 ? { ...hold, seats: left, expiresAt: earliest(hold, left) } : null;
    saveHold(hold);
    map.redrawSeats(indices);
    renderHold();
    renderSelection(); // "Choose up to N" counts the seats still held
    syncPicker();
  }

  // Some seats' holds ended (an order keeps its seats longer): those go, the others stay.
  function holdExpired(): void {
    if (!hold) return;
    const kept = withoutExpired(hold);
    const ended = hold.seats.filter((seat) => !kept?.seats.some((other) => other.seatNo === seat.seatNo)).map((seat) => seat.seatNo);
    dropHold(statusCodes.AVAILABLE, ended);
    showMessage(messages, t('holdExpired'), 'info');
    void feed.refresh(); // the server's word on the map (the stream says so too)
  }

  async function releaseHold(button: HTMLButtonElement): Promise<void> {
    if (!hold) return;
    button.disabled = true;
    // Seats already in an order cannot be released (409 SEAT_IN_PAYMENT): the others can. When all
    // are in one, the server's answer says so.
    const current = hold;
    const free = current.seats.filter((seat) => !(seat.orderNo ?? current.orderNo)).map((seat) => seat.seatNo);
    const seatNos = free.length > 0 ? free : current.seats.map((seat) => seat.seatNo);
    try {
      const result = await bookingCall(() =>
        call<{ released: string[] }>('/tickets/release', {
          method: 'POST',
          auth: true,
          queueToken,
          body: { scheduleId: Number(scheduleId), seatNos },
        }),
      );
      holdChangedHere(scheduleId);
      if (page.left) return;
      const staying = current.seats.filter((seat) => !seatNos.includes(seat.seatNo)).map((seat) => seat.seatNo);
      dropHold(statusCodes.AVAILABLE, seatNos);
      announcer.textContent = t('seatsReleasedAnnounce', { seats: (result?.released ?? seatNos).join(', ') });
      // The Release button is gone with the hold panel: focus goes on to the selection, not to <body>.
      document.getElementById('selection-heading')?.focus();
      if (staying.length > 0) showMessage(messages, t('releasedButInOrder', { seats: staying.join(', ') }), 'info');
    } catch (error) {
      button.disabled = false;
      handleError(page, messages, error, scheduleId);
    }
  }

  // Seats of a hold from before a reload are ours again.
  if (hold) {
    for (const seat of hold.seats) {
      const index = model.indexOf.get(seat.seatNo);
      if (index !== undefined) map.mine.add(index);
    }
    map.redrawSeats(map.mine);
  }
  // The choice from before a re-render (language switch, reload), as far as those seats are still free.
  const kept = keptSelection();
  if (kept?.scheduleId === scheduleId) {
    const restored: number[] = [];
    for (const seatNo of kept.seatNos) {
      const index = model.indexOf.get(seatNo);
      if (index === undefined || map.mine.has(index) || model.status[index] !== statusCodes.AVAILABLE) continue;
      if (map.selected.size + map.mine.size >= maxSeats) break;
      map.selected.add(index);
      restored.push(index);
    }
    map.redrawSeats(restored);
  }
  renderSelection();
  renderHold();
  every(page, 250, () => {
    if (!hold) return;
    const timer = holdPanel.querySelector('.hold-timer');
    const left = Date.parse(hold.expiresAt) - serverNow();
    if (left <= 0) holdExpired();
    else if (timer) timer.textContent = t('holdExpiresIn', { time: countdown(left) });
  });
}
