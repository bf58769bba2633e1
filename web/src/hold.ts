// The reader's current hold, kept in sessionStorage so checkout and a reload can see it, and
// rebuilt from the server's reservations where this tab does not know it (another tab made it).
import { call } from './api';

export interface HeldSeat {
  seatNo: string;
  section: string;
  price: number;
  // The READY order this seat is in already, if any (made in this tab or another).
  orderNo?: string;
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
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? (JSON.parse(raw) as Hold) : null;
  } catch {
    return null;
  }
}

export function saveHold(hold: Hold | null): void {
  if (hold && hold.seats.length > 0) sessionStorage.setItem(key, JSON.stringify(hold));
  else sessionStorage.removeItem(key);
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
export async function heldOnServer(scheduleId?: string): Promise<MyReservation[] | null> {
  try {
    const rows = await call<MyReservation[]>('/me/reservations', { auth: true });
    const now = Date.now();
    return rows.filter(
      (row) => (scheduleId === undefined || String(row.scheduleId) === scheduleId) && row.status === 'HELD' && Date.parse(row.expiresAt) > now,
    );
  } catch {
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
    if (info) seats.push(row.orderNo ? { seatNo: row.seatNo, ...info, orderNo: row.orderNo } : { seatNo: row.seatNo, ...info });
  }
  if (seats.length === 0) return null;
  const expiresAt = rows.reduce((earliest, row) => (Date.parse(row.expiresAt) < Date.parse(earliest) ? row.expiresAt : earliest), rows[0]!.expiresAt);
  const orders = new Set(rows.map((row) => row.orderNo));
  const [only] = [...orders];
  return orders.size === 1 && only ? { scheduleId, seats, expiresAt, orderNo: only } : { scheduleId, seats, expiresAt };
}

// The reader's newest hold as the server has it, with its seats' prices from the schedule's
// layout: what checkout shows in a tab that did not make the hold.
export async function holdFromServer(): Promise<Hold | null> {
  const rows = await heldOnServer();
  if (!rows || rows.length === 0) return null;
  const scheduleId = String(rows[0]!.scheduleId);
  try {
    const layout = await call<SeatLayoutResponse>(`/schedules/${scheduleId}/layout`);
    const bySeat = new Map(layout.seats.map((seat) => [seat.seatNo, { section: seat.section, price: seat.price }]));
    return holdFrom(scheduleId, rows.filter((row) => String(row.scheduleId) === scheduleId), (seatNo) => bySeat.get(seatNo));
  } catch {
    return null;
  }
}

// What checkout pays next: the seats in no order yet (a new order), or else the seats of the one
// order they are in (that order). The rest, if any, are in an order of their own, paid after.
export function nextPayment(hold: Hold): { seats: HeldSeat[]; orderNo?: string; rest: HeldSeat[] } {
  const orderOf = (seat: HeldSeat): string | undefined => seat.orderNo ?? hold.orderNo;
  const free = hold.seats.filter((seat) => !orderOf(seat));
  if (free.length > 0) return { seats: free, rest: hold.seats.filter((seat) => orderOf(seat)) };
  const orderNo = orderOf(hold.seats[0]!)!;
  return {
    seats: hold.seats.filter((seat) => orderOf(seat) === orderNo),
    orderNo,
    rest: hold.seats.filter((seat) => orderOf(seat) !== orderNo),
  };
}
