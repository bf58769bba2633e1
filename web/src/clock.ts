// The server's clock, as its answers' Date header tells it. Holds, orders and openings end by the
// server's clock; a device whose clock is minutes ahead would otherwise count a fresh hold down to
// nothing and let the reader pay for nothing. Date is in whole seconds (the moment it was written,
// floored), so a device within 2 s of it keeps its own clock.
let offsetMs = 0;

export function noteServerDate(header: string | null, receivedAt: number = Date.now()): void {
  if (!header) return;
  const server = Date.parse(header);
  if (Number.isNaN(server)) return;
  const difference = server + 500 - receivedAt;
  offsetMs = Math.abs(difference) > 2000 ? difference : 0;
}

// Now, by the server's clock as far as it is known.
export function serverNow(): number {
  return Date.now() + offsetMs;
}
