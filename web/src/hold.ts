// The reader's current hold, kept in sessionStorage so checkout and a reload can see it.
export interface HeldSeat {
  seatNo: string;
  section: string;
  price: number;
}

export interface Hold {
  scheduleId: string;
  seats: HeldSeat[];
  expiresAt: string;
  // The READY order made for these seats, once checkout created it (a second one would be 409).
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

export function holdTotal(hold: Hold): number {
  return hold.seats.reduce((sum, seat) => sum + seat.price, 0);
}
