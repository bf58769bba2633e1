// Scenario (c), flash sale: USERS distinct users each enter the queue, poll until admitted, read
// the seat map, hold 1–4 random AVAILABLE seats (on 409 SEAT_ALREADY_HELD: drop the conflicting
// seats and try other ones, up to MAX_TRIES holds, or give up when nothing is left), pay
// (ready -> mock-success) and poll the order until it is PAID or CANCELLED. A user who gives up
// leaves the queue (DELETE /queue), so the slot goes to the next one.
//
// Shape: k6 shares the 2 cores with the server, MariaDB, Redis and Kafka, so a few VUs each drive
// CONCURRENCY users at once with async requests (VUS × CONCURRENCY users in flight; user ids
// USER_OFFSET+1 .. USER_OFFSET+USERS, a new user starts as soon as one finishes). The only waits
// are the status/order polls.
//
// The seat map of a 10,000-seat schedule is ~700 KB and a join over every seat, so each VU keeps
// the map it read and shares it among its users, like a CDN edge or a client cache: it is re-read
// when the list of available seats runs out, when a user's holds hit taken seats twice in a row,
// or when it is older than MAP_MAX_AGE_MS — never more often than every MAP_MIN_AGE_MS — and every
// 409 tells which seats are gone. A map with nothing AVAILABLE but seats still HELD (payments in
// flight) doubles that minimum age each time (up to 30 s), so a seat stuck in a hold cannot turn
// the VUs into seat-map pollers. Once a map shows every seat SOLD the VU knows the sale is over:
// later users still queue, get admitted and see the sold-out map, then leave. The users of one VU
// pick from one list, so they never race each other; users of different VUs do. The report counts
// the real map reads (seat_map_reads).
//
// Run it through load/run (it creates the schedule, starts the server, audits afterwards):
//   load/run flash-sale --users 100000 --seats 10000
// Environment (load/run sets them): SCHEDULE_ID, USERS, VUS, CONCURRENCY, USER_OFFSET, MAX_TRIES,
// MAX_SEATS, MAX_DURATION, MAP_MAX_AGE_MS, MAP_MIN_AGE_MS, BASE_URL, TOKENS_FILE (the users' access
// tokens, minted by load/run: every call is made as its user, see lib/ticketing.js).
import { Counter, Rate, Trend } from 'k6/metrics';
import * as t from './lib/ticketing.js';

const int = t.envInt;
const USERS = int(__ENV.USERS, 100000);
const VUS = Math.min(int(__ENV.VUS, 4), USERS);
const CONCURRENCY = int(__ENV.CONCURRENCY, 250);
const USER_OFFSET = int(__ENV.USER_OFFSET, 0);
const MAX_TRIES = int(__ENV.MAX_TRIES, 5);
const MAX_SEATS = int(__ENV.MAX_SEATS, 4);
const MAP_MAX_AGE_MS = int(__ENV.MAP_MAX_AGE_MS, 5000);
const MAP_MIN_AGE_MS = int(__ENV.MAP_MIN_AGE_MS, 500);

export const options = t.scenarioOptions('flash_sale', VUS, CONCURRENCY, '9m', Object.assign(
    t.latencyThresholds({
      enter: [50, 100],
      status: [50, 100],
      hold: [50, 100], // target: hold p99 <= 100 ms
      ready: [100, 200],
      pay: [100, 200],
      order: [1000, 2000], // GET /payment?waitMs= answers when the order settles: the confirmation time
      seats: [1000, 2000],
    }),
    {
      http_req_failed: ['rate<0.01'],
      user_flow_failed: ['rate<0.01'],
      // A payment the gateway reported must end PAID or CANCELLED while the user is still polling.
      payments_unsettled: ['count==0'],
    },
  ));

const usersDone = new Counter('users');
const bookingsPaid = new Counter('bookings_paid');
const bookingsCancelled = new Counter('bookings_cancelled');
const seatsBought = new Counter('seats_bought');
const paymentsAccepted = new Counter('payments_accepted');
const paymentsUnsettled = new Counter('payments_unsettled');
const holdConflicts = new Counter('hold_conflicts');
const gaveUpSoldOut = new Counter('gave_up_sold_out');
const gaveUpTries = new Counter('gave_up_after_tries');
const mapReads = new Counter('seat_map_reads');
const flowFailed = new Rate('user_flow_failed');
const holdToPaid = new Trend('hold_to_paid_ms', true); // first hold attempt -> order PAID
const confirmWait = new Trend('confirm_wait_ms', true); // mock-success -> order final
const userTime = new Trend('user_flow_ms', true); // enter -> done (bought or gave up)

export function setup() {
  t.requireSchedule();
}

// The VU's seat cache, shared by its users.
let avail = []; // seat numbers believed AVAILABLE
let fetchedAt = 0; // ms, 0 = never
let minAge = MAP_MIN_AGE_MS; // current minimum age before a re-read (backs off, see above)
let soldOut = false; // a map showed every seat SOLD: final
let reading = null; // the read in progress (users who need the map meanwhile wait for it)
let generation = 0; // bumped by every read: seats taken out of an older list are not put back

function mayRefresh() {
  return Date.now() - fetchedAt >= minAge;
}

// Reads the seat map into the cache, once for all users who ask while it is in flight. Scans the
// JSON text instead of parsing 10,000 objects: each `"status":"AVAILABLE"` is preceded, in the
// same object, by its `"seatNo":"…"`.
function readMap() {
  if (reading) return reading;
  reading = (async () => {
    const res = await t.seatMap();
    mapReads.add(1);
    fetchedAt = Date.now();
    if (res.status !== 200) return;
    const body = res.body;
    const seats = [];
    const key = '"seatNo":"';
    for (let i = body.indexOf('"AVAILABLE"'); i >= 0; i = body.indexOf('"AVAILABLE"', i + 11)) {
      const start = body.lastIndexOf(key, i) + key.length;
      seats.push(body.substring(start, body.indexOf('"', start)));
    }
    const held = body.indexOf('"HELD"') >= 0;
    avail = seats;
    generation++;
    soldOut = seats.length === 0 && !held && body.indexOf('"SOLD"') >= 0;
    minAge = seats.length === 0 ? Math.min(minAge * 2, 30000) : MAP_MIN_AGE_MS;
  })();
  const done = reading;
  return done.then(() => {
    reading = null;
  });
}

// Takes n random seats out of the cache.
function pick(n) {
  const out = [];
  for (let k = 0; k < n && avail.length > 0; k++) {
    const i = Math.floor(Math.random() * avail.length);
    out.push(avail[i]);
    avail[i] = avail[avail.length - 1];
    avail.pop();
  }
  return out;
}

function json(res) {
  try {
    return res.json() || {};
  } catch (e) {
    return {};
  }
}

function fail(userId, step, res) {
  t.flowErrors.add(1, { step });
  console.warn(`user ${userId}: ${step} answered ${res.status}: ${String(res.body).slice(0, 200)}`);
}

// Holds 1..MAX_SEATS random seats, retrying with others on conflicts. Returns the seats, or null
// (gave up), or false (an unexpected answer; already reported).
async function holdSome(token, userId) {
  const want = 1 + Math.floor(Math.random() * MAX_SEATS);
  let conflictsInARow = 0;
  for (let attempt = 1; attempt <= MAX_TRIES; attempt++) {
    if (soldOut) return null;
    if ((avail.length === 0 || conflictsInARow >= 2) && mayRefresh()) {
      await readMap();
      conflictsInARow = 0;
    }
    if (avail.length === 0 || soldOut) return null;
    const seats = pick(Math.min(want, avail.length));
    const gen = generation;
    const giveBack = (list) => {
      if (gen === generation) for (const s of list) avail.push(s); // a newer map already knows
    };
    const res = await t.hold(token, userId, seats);
    if (res.status === 200) return seats;
    const b = json(res);
    if (res.status === 409 && b.code === 'SEAT_ALREADY_HELD') {
      holdConflicts.add(1);
      conflictsInARow++;
      const taken = new Set(b.conflictingSeats || []);
      giveBack(seats.filter((s) => !taken.has(s))); // all-or-none: the rest are still free
      continue;
    }
    giveBack(seats);
    fail(userId, 'hold', res);
    return false;
  }
  return null;
}

async function user(userId) {
  const t0 = Date.now();
  usersDone.add(1);
  const token = await t.enterAndWait(userId);
  if (!token) {
    flowFailed.add(true);
    return;
  }
  if (!soldOut && (fetchedAt === 0 || Date.now() - fetchedAt > MAP_MAX_AGE_MS || (avail.length === 0 && mayRefresh()))) {
    await readMap();
  }

  const holdStart = Date.now();
  const seats = await holdSome(token, userId);
  if (!seats) {
    if (seats === null) {
      if (soldOut || avail.length === 0) gaveUpSoldOut.add(1);
      else gaveUpTries.add(1);
    }
    await t.leave(userId);
    flowFailed.add(seats === false);
    userTime.add(Date.now() - t0);
    return;
  }

  // Pay: a READY order, the gateway's callback, then the order until it is final.
  const readyRes = await t.ready(token, userId, seats, `load-${t.SCHEDULE_ID}-${userId}`);
  if (readyRes.status !== 201 && readyRes.status !== 200) {
    fail(userId, 'ready', readyRes);
    await t.release(token, userId, seats);
    await t.leave(userId);
    flowFailed.add(true);
    return;
  }
  const orderNo = json(readyRes).orderNo;
  let payRes = await t.pay(orderNo);
  for (let retry = 0; retry < 3 && payRes.status !== 202 && payRes.status !== 200; retry++) {
    payRes = await t.pay(orderNo); // a repeat is answered 200 and changes nothing
  }
  if (payRes.status !== 202 && payRes.status !== 200) {
    fail(userId, 'pay', payRes);
    flowFailed.add(true);
    return; // the READY order expires (payment.order-ttl); the drain and the audit report it
  }
  paymentsAccepted.add(1);
  const paidAt = Date.now();
  const final = await t.waitFinal(orderNo, userId);
  if (!final) {
    paymentsUnsettled.add(1);
    flowFailed.add(true);
    return;
  }
  confirmWait.add(Date.now() - paidAt);
  if (final.status === 'PAID') {
    bookingsPaid.add(1);
    seatsBought.add(seats.length);
    holdToPaid.add(Date.now() - holdStart);
  } else {
    bookingsCancelled.add(1);
    console.warn(`order ${orderNo}: ${final.status} (${final.failReason})`);
  }
  flowFailed.add(false);
  userTime.add(Date.now() - t0);
  // A completed purchase frees the queue slot by itself (docs/payments.md).
}

export default async function () {
  await t.runUsers(USERS, VUS, CONCURRENCY, USER_OFFSET, user);
}
