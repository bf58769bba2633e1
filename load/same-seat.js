// Scenario (b), same seat: USERS admitted users race for one seat at the same instant. Exactly one
// hold may succeed (200); every other answer must be 409 SEAT_ALREADY_HELD naming that seat. The
// winner then pays, so the audit afterwards also sees one PAID order with one CONFIRMED row.
//
// Shape: VUS VUs drive all the users at once with async requests (USERS/VUS each). Every user
// enters the queue and waits until admitted, then waits for the common start time chosen in
// setup() and fires its hold: the race is as tight as k6 can make it (start_spread_ms says how
// tight it was).
//
//   load/run same-seat --users 500
// Environment (load/run sets them): SCHEDULE_ID, USERS, VUS, USER_OFFSET, SEAT, PREP_S,
// BASE_URL, TOKENS_FILE (the users' access tokens, minted by load/run: every call is made as its
// user, see lib/ticketing.js).
import { Counter, Trend } from 'k6/metrics';
import * as t from './lib/ticketing.js';

const int = t.envInt;
const USERS = int(__ENV.USERS, 500);
const VUS = Math.min(int(__ENV.VUS, 4), USERS);
const PER_VU = Math.ceil(USERS / VUS);
const USER_OFFSET = int(__ENV.USER_OFFSET, 0);
const SEAT = __ENV.SEAT || 'A-1';
// Time for every user to enter and be admitted before the shot (default: 3 s + 5 ms per user).
const PREP_MS = 1000 * parseFloat(__ENV.PREP_S || String(3 + USERS / 200));

export const options = t.scenarioOptions('same_seat', VUS, PER_VU, '5m', Object.assign(t.latencyThresholds({ enter: [100, 200], status: [100, 200], hold: [150, 250] }), {
    hold_won: ['count==1'],
    hold_lost: [`count==${USERS - 1}`],
    hold_wrong_answer: ['count==0'],
    late_starters: ['count==0'],
    http_req_failed: ['rate==0'],
    winner_paid: ['count==1'],
  }));

const usersDone = new Counter('users');
const won = new Counter('hold_won');
const lost = new Counter('hold_lost');
const wrong = new Counter('hold_wrong_answer');
const late = new Counter('late_starters');
const winnerPaid = new Counter('winner_paid');
const spread = new Trend('start_spread_ms', true); // how late after the common start each hold left

export function setup() {
  t.requireSchedule();
  return { startAt: Date.now() + PREP_MS };
}

async function racer(userId, startAt) {
  usersDone.add(1);
  const token = await t.enterAndWait(userId);
  if (!token) {
    wrong.add(1);
    return;
  }
  const wait = startAt - Date.now();
  if (wait > 0) await t.sleep(wait / 1000);
  else late.add(1);
  spread.add(Math.max(0, Date.now() - startAt));

  const res = await t.hold(token, userId, [SEAT]);
  let b = {};
  try {
    b = res.json() || {};
  } catch (e) {
    /* not JSON: counted below */
  }
  if (res.status === 200) {
    won.add(1);
    console.log(`user ${userId} won ${SEAT}`);
    const readyRes = await t.ready(token, userId, [SEAT], `same-seat-${t.SCHEDULE_ID}-${userId}`);
    if (readyRes.status === 201) {
      const orderNo = readyRes.json().orderNo;
      await t.pay(orderNo);
      const final = await t.waitFinal(orderNo, userId);
      if (final && final.status === 'PAID') winnerPaid.add(1);
      else console.warn(`winner's order ${orderNo} ended ${final ? final.status : 'unknown'}`);
    } else {
      console.warn(`winner's ready answered ${readyRes.status}: ${readyRes.body}`);
    }
    return;
  }
  const named = Array.isArray(b.conflictingSeats) && b.conflictingSeats.length === 1 && b.conflictingSeats[0] === SEAT;
  if (res.status === 409 && b.code === 'SEAT_ALREADY_HELD' && named) {
    lost.add(1);
  } else {
    wrong.add(1);
    console.warn(`user ${userId}: hold answered ${res.status}: ${String(res.body).slice(0, 200)}`);
  }
  await t.leave(userId);
}

export default async function (data) {
  await t.runUsers(USERS, VUS, PER_VU, USER_OFFSET, (userId) => racer(userId, data.startAt));
}
