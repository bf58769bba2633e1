// The server's clock, as its answers' Date header tells it. Holds, orders and openings end by the
// server's clock; a device whose clock is minutes ahead would otherwise count a fresh hold down to
// nothing and let the reader pay for nothing. Date is in whole seconds (the moment it was written,
// floored), so a device within ~2 s of it keeps its own clock: the offset is taken up past 2 s and
// dropped again under 1.5 s (no flapping in between). A sample is read against the middle of its
// request; one whose round trip (or a busy page's delay in handling it) took over a second says
// too little and is not used.
let offsetMs = 0;

export function noteServerDate(header: string | null, sentAt: number, receivedAt: number = Date.now()): void {
  if (!header || receivedAt - sentAt > 1000) return;
  const server = Date.parse(header);
  if (Number.isNaN(server)) return;
  const difference = server + 500 - (sentAt + receivedAt) / 2;
  if (Math.abs(difference) > 2000) offsetMs = difference;
  else if (Math.abs(difference) < 1500) offsetMs = 0;
}

// Now, by the server's clock as far as it is known.
export function serverNow(): number {
  return Date.now() + offsetMs;
}
