// Scenario (a), queue storm: USERS distinct users enter the waiting room of one schedule
// (POST /queue/enter) and poll GET /queue/status until ADMITTED (every 50 ms at first, backing off
// to 500 ms: the heartbeat docs/queue.md asks for), then leave (DELETE /queue) so the slot goes to
// the next user. Measures enter/status/leave latency and the wait for admission.
//
// Shape: k6 shares the 2 cores with the server and Redis, so a few VUs each drive CONCURRENCY
// users at once with async requests (VUS × CONCURRENCY users in flight; user ids
// USER_OFFSET+1 .. USER_OFFSET+USERS, a new user starts as soon as one finishes).
//
//   load/run queue-storm --users 50000
// Environment (load/run sets them): SCHEDULE_ID, USERS, VUS, CONCURRENCY, USER_OFFSET,
// MAX_DURATION, BASE_URL, TOKENS_FILE (the users' access tokens, minted by load/run: every call is
// made as its user, see lib/ticketing.js).
import { Counter, Rate, Trend } from 'k6/metrics';
import * as t from './lib/ticketing.js';

const int = t.envInt;
const USERS = int(__ENV.USERS, 50000);
const VUS = Math.min(int(__ENV.VUS, 4), USERS);
const CONCURRENCY = int(__ENV.CONCURRENCY, 100);
const USER_OFFSET = int(__ENV.USER_OFFSET, 0);

export const options = t.scenarioOptions('queue_storm', VUS, CONCURRENCY, '9m', Object.assign(t.latencyThresholds({ enter: [50, 100], status: [50, 100], leave: [50, 100] }), {
    http_req_failed: ['rate<0.001'],
    user_flow_failed: ['rate<0.001'],
  }));

const usersDone = new Counter('users');
const flowFailed = new Rate('user_flow_failed');
const userTime = new Trend('user_flow_ms', true); // enter -> left

export function setup() {
  t.requireSchedule();
}

async function user(userId) {
  const t0 = Date.now();
  usersDone.add(1);
  const token = await t.enterAndWait(userId);
  if (!token) {
    flowFailed.add(true);
    return;
  }
  const res = await t.leave(userId);
  flowFailed.add(res.status !== 204);
  userTime.add(Date.now() - t0);
}

export default async function () {
  await t.runUsers(USERS, VUS, CONCURRENCY, USER_OFFSET, user);
}
