// The reader's current hold, kept in sessionStorage so checkout and a reload can see it, and
// rebuilt from the server's reservations where this tab does not know it (another tab made it).
import { call, SignInRequired } from './api';
import { naturalCompare } from './seatmodel';
import { storedValue, storeValue } from './storage';
import { serverNow } from './clock';

export interface HeldSeat {
  seatNo: string;
  section: string;
  price: number;
  // The READY order this seat is in already, if any (made in this tab or another).
  orderNo?: string;
  // When this seat's hold ends (an order's seats last as long as the order); the hold's otherwise.
  expiresAt?: string;
}

export interface Hold {
  scheduleId: string;
  seats: HeldSeat[];
  expiresAt: string;
  // The READY order all of these seats are in, once checkout created it (a second one would be 409).
  orderNo?: string;
}

const key = 'hold';

export function loadHold(): Hold | null {
  return storedValue<Hold>(key);
}

export function saveHold(hold: Hold | null): void {
  storeValue(key, hold && hold.seats.length > 0 ? hold : null);
}

// Other tabs of this browser (the same reader: the session is shared) re-read their hold when this
// one changes it on the server. The live stream says a seat is HELD, not whose; without this a
// seat held in another tab showed as someone else's until the map was opened again.
const holdChannel: BroadcastChannel | null = typeof BroadcastChannel === 'function' ? new BroadcastChannel('hold') : null;

export function holdChangedHere(scheduleId: string): void {
  holdChannel?.postMessage({ scheduleId });
}

// Calls `listener` when another tab changed the reader's hold on `scheduleId` (null: on any
// schedule); returns the unsubscribe.
export function onHoldChangedElsewhere(scheduleId: string | null, listener: () => void): () => void {
  if (!holdChannel) return () => undefined;
  const handler = (event: MessageEvent): void => {
    const changed = (event.data as { scheduleId?: unknown } | null)?.scheduleId;
    if (scheduleId === null ? typeof changed === 'string' : changed === scheduleId) listener();
  };
  holdChannel.addEventListener('message', handler);
  return () => holdChannel.removeEventListener('message', handler);
}

// The seats whose hold has not ended at `now`, and the earliest end among them; null when none is left.
export function withoutExpired(hold: Hold, now = serverNow()): Hold | null {
  const seats = hold.seats.filter((seat) => Date.parse(seat.expiresAt ?? hold.expiresAt) > now);
  return seats.length === 0 ? null : { ...hold, seats, expiresAt: earliest(hold, seats) };
}

// The earliest end of `seats`' holds (the hold's own end for a seat that does not say).
export function earliest(hold: Hold, seats: HeldSeat[] = hold.seats): string {
  let first = seats[0]?.expiresAt ?? hold.expiresAt;
  for (const seat of seats) {
    const end = seat.expiresAt ?? hold.expiresAt;
    if (Date.parse(end) < Date.parse(first)) first = end;
  }
  return first;
}

export function holdTotal(hold: { seats: HeldSeat[] }): number {
  return hold.seats.reduce((sum, seat) => sum + seat.price, 0);
}

export interface SeatLayoutResponse {
  scheduleId: number;
  seats: Array<{ seatNo: string; section: string; price: number }>;
}

export interface MyReservation {
  scheduleId: number;
  seatNo: string;
  status: string;
  expiresAt: string;
  orderNo: string | null;
}

// The reader's live holds (GET /me/reservations: HELD and unexpired, newest first), on one
// schedule or all; null when they cannot be read (the hold this tab remembers is used then).
// Throws SignInRequired when the session is over.
export async function heldOnServer(scheduleId?: string): Promise<MyReservation[] | null> {
  try {
    const rows = await call<MyReservation[]>('/me/reservations', { auth: true });
    const now = serverNow();
    return rows.filter(
      (row) => (scheduleId === undefined || String(row.scheduleId) === scheduleId) && row.status === 'HELD' && Date.parse(row.expiresAt) > now,
    );
  } catch (error) {
    if (error instanceof SignInRequired) throw error; // the page sends the reader to sign in
    return null;
  }
}

// The hold those rows make: its seats with their sections, prices (`seatInfo`; seats it does not
// know are left out) and orders, the earliest expiry, and the order they are in when they are all
// in one (checkout then goes on with that order, never a second one).
export function holdFrom(
  scheduleId: string,
  rows: MyReservation[],
  seatInfo: (seatNo: string) => { section: string; price: number } | undefined,
): Hold | null {
  const seats: HeldSeat[] = [];
  for (const row of rows) {
    const info = seatInfo(row.seatNo);
    if (!info) continue;
    const seat: HeldSeat = { seatNo: row.seatNo, ...info, expiresAt: row.expiresAt };
    if (row.orderNo) seat.orderNo = row.orderNo;
    seats.push(seat);
  }
  if (seats.length === 0) return null;
  seats.sort((a, b) => naturalCompare(a.seatNo, b.seatNo)); // K-4 before K-163, as the map lists them
  const expiresAt = earliest({ scheduleId, seats, expiresAt: seats[0]!.expiresAt! });
  const orders = new Set(rows.map((row) => row.orderNo));
  const [only] = [...orders];
  return orders.size === 1 && only ? { scheduleId, seats, expiresAt, orderNo: only } : { scheduleId, seats, expiresAt };
}

// The reader's hold as the server has it now: on `known`'s schedule when this tab remembers one
// that still has held seats (another tab may have ordered, released or added seats since), else
// their newest. Prices come
// from `known` or the schedule's layout. undefined when the server cannot be asked (the caller
// keeps what it remembers), null when there is no hold.
export async function holdFromServer(known: Hold | null): Promise<Hold | null | undefined> {
  const rows = await heldOnServer();
  if (!rows) return undefined;
  if (rows.length === 0) return null;
  const knownStillHeld = known && rows.some((row) => String(row.scheduleId) === known.scheduleId);
  const scheduleId = knownStillHeld ? known.scheduleId : String(rows[0]!.scheduleId);
  const mine = rows.filter((row) => String(row.scheduleId) === scheduleId);
  const knownSeats = knownStillHeld ? known.seats : []; // seat numbers repeat across schedules
  const priced = new Map(knownSeats.map((seat) => [seat.seatNo, { section: seat.section, price: seat.price }]));
  if (mine.some((row) => !priced.has(row.seatNo))) {
    try {
      const layout = await call<SeatLayoutResponse>(`/schedules/${scheduleId}/layout`);
      for (const seat of layout.seats) priced.set(seat.seatNo, { section: seat.section, price: seat.price });
    } catch {
      return undefined;
    }
  }
  return holdFrom(scheduleId, mine, (seatNo) => priced.get(seatNo));
}

// What checkout pays next: the seats in no order yet (a new order), or else the seats of the order
// that ends first (that order). The rest, if any, are in an order of their own, paid after.
export function nextPayment(hold: Hold): { seats: HeldSeat[]; orderNo?: string; rest: HeldSeat[] } {
  const orderOf = (seat: HeldSeat): string | undefined => seat.orderNo ?? hold.orderNo;
  const free = hold.seats.filter((seat) => !orderOf(seat));
  if (free.length > 0) return { seats: free, rest: hold.seats.filter((seat) => orderOf(seat)) };
  const first = earliest(hold);
  const orderNo = orderOf(hold.seats.find((seat) => (seat.expiresAt ?? hold.expiresAt) === first) ?? hold.seats[0]!)!;
  return {
    seats: hold.seats.filter((seat) => orderOf(seat) === orderNo),
    orderNo,
    rest: hold.seats.filter((seat) => orderOf(seat) !== orderNo),
  };
}
