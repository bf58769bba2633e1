// Shared client for the k6 scenarios in load/: one async function per endpoint, each request
// tagged with the endpoint's name (not its raw URL, so /payment/ORD-… stays one time series), a
// Trend per endpoint (ms), and the flow helpers (wait for admission, poll an order until it is final).
//
// Identity (DESIGN.md §5, §12): every call for a user carries that user's access token
// (Authorization: Bearer), never a userId in a body or query. The tokens are minted once per run by
// load/run (`ticketing token mint`) into a file that is read here, in the init context, into a
// SharedArray (one copy for all VUs) indexed by user id. The booking calls (hold, release, ready)
// also carry the queue's admission token in Queue-Token. mock-success is the payment gateway, not a
// user: it is signed (Gateway-Signature: HMAC-SHA256 with the gateway secret).
//
// Everything is async (http.asyncRequest, timers): one VU drives many users at once, each user a
// chain of awaits, so a handful of VUs keeps hundreds of users in flight without hundreds of JS
// runtimes competing for the 2 cores the server also needs (see runUsers below).
//
// Settings come from the environment (load/run passes them with -e):
//   BASE_URL       the server                      (http://127.0.0.1:18091)
//   BASE_URLS      several servers, comma-separated: VU k sends every request to the ((k-1) mod n)-th,
//                  so the load is split across instances without a balancer (load/run chaos)
//   USERS_PER_SECOND  start users no faster than this (0: each as soon as a slot is free), so a
//                  run lasts users / rate seconds whatever the machine's speed (load/run chaos)
//   TIMELINE       1: count every request's outcome per wall-clock second and print the counts at
//                  the end of each VU (a "timeline" log line that load/report.py reads)
//   SCHEDULE_ID    the schedule under test          (required)
//   TOKENS_FILE    `ticketing token mint` output: "userId accessToken" lines, ascending
//                  consecutive ids covering every user of the run (required; load/run mints it)
//   GATEWAY_SECRET payment.gateway-secret, the key of mock-success's Gateway-Signature (dev-gateway-secret)
//   GATEWAY_PLAIN  1: send the dev profile's X-Gateway-Secret shortcut instead of signing (unset)
//   ADMIT_TIMEOUT_S  give up waiting for admission after this long (120)
//   ORDER_TIMEOUT_S  give up polling an order after this long (60)
//   ORDER_WAIT_MS    GET /payment/{orderNo}?waitMs= (10000; 0: plain polling)
import http from 'k6/http';
import crypto from 'k6/crypto';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { setTimeout } from 'k6/timers';

const BASE_URLS = (__ENV.BASE_URLS || __ENV.BASE_URL || 'http://127.0.0.1:18091')
  .split(',')
  .filter((u) => u !== '')
  .map((u) => u.replace(/\/$/, ''));
export const BASE_URL = BASE_URLS[0];
// The server of this VU (VU ids start at 1; the init context, id 0, gets the first).
function base() {
  return BASE_URLS[Math.max(exec.vu.idInTest - 1, 0) % BASE_URLS.length];
}
const USERS_PER_SECOND = parseFloat(__ENV.USERS_PER_SECOND || '0');
const TIMELINE = __ENV.TIMELINE === '1';
export const SCHEDULE_ID = parseInt(__ENV.SCHEDULE_ID || '0', 10);
const GATEWAY_SECRET = __ENV.GATEWAY_SECRET || 'dev-gateway-secret';
const GATEWAY_PLAIN = __ENV.GATEWAY_PLAIN === '1';
const TOKENS_FILE = __ENV.TOKENS_FILE || '';
if (!TOKENS_FILE) throw new Error('TOKENS_FILE is required: access tokens from `ticketing token mint` (load/run mints them)');

// Element 0: the first user id of the file (as a string); element k: the token of user first + k - 1.
// The callback runs once (not once per VU); VUs share the array read-only.
const tokens = new SharedArray('access-tokens', function () {
  const out = [];
  let first = 0;
  for (const line of open(TOKENS_FILE).split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    const user = parseInt(line.slice(0, space), 10);
    if (out.length === 0) {
      first = user;
      out.push(String(first));
    }
    if (space < 1 || user !== first + out.length - 1) {
      throw new Error(`${TOKENS_FILE}: expected user ${first + out.length - 1} on line ${out.length}, got '${line.slice(0, 20)}'`);
    }
    out.push(line.slice(space + 1));
  }
  if (out.length < 2) throw new Error(`${TOKENS_FILE} has no tokens`);
  return out;
});
const FIRST_USER = parseInt(tokens[0], 10);

// The access token of `userId` (minted by load/run for users USER_OFFSET+1 .. USER_OFFSET+USERS).
export function accessToken(userId) {
  const i = userId - FIRST_USER + 1;
  if (!(i >= 1 && i < tokens.length)) {
    throw new Error(`no access token for user ${userId} in ${TOKENS_FILE} (users ${FIRST_USER}-${FIRST_USER + tokens.length - 2})`);
  }
  return tokens[i];
}
const ADMIT_TIMEOUT_MS = 1000 * parseFloat(__ENV.ADMIT_TIMEOUT_S || '120');
const ORDER_TIMEOUT_MS = 1000 * parseFloat(__ENV.ORDER_TIMEOUT_S || '60');
const ORDER_WAIT_MS = parseInt(__ENV.ORDER_WAIT_MS || '10000', 10);

export function requireSchedule() {
  if (!(SCHEDULE_ID > 0)) throw new Error('SCHEDULE_ID is required (load/run sets it)');
}

// The percentiles every summary and the exported JSON carry.
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];

// Per-endpoint latency (ms); the name is the `name` tag of its requests.
export const ENDPOINTS = ['enter', 'status', 'leave', 'seats', 'hold', 'release', 'ready', 'pay', 'order'];
export const trends = {};
for (const name of ENDPOINTS) trends[name] = new Trend(`${name}_ms`, true);

// Statuses that are an answer of the protocol, not an error, per endpoint (the responseCallback):
// anything else counts in http_req_failed, tagged with the endpoint's name.
const EXPECTED = {
  enter: [200],
  status: [200],
  leave: [204],
  seats: [200],
  hold: [200, 409],
  release: [200, 409],
  ready: [201, 200],
  pay: [202, 200],
  order: [200],
};
const callbacks = {};
for (const name of ENDPOINTS) callbacks[name] = http.expectedStatuses(...EXPECTED[name]);

export const shed = new Counter('shed_responses'); // 503/429 (load shedding), retried
export const flowErrors = new Counter('flow_errors'); // a user flow that broke (see the log line)
export const admitWait = new Trend('admission_wait_ms', true); // enter -> ADMITTED
// A waiting user whose position grew between two answers: someone who came later was put ahead
// (docs/queue.md: the position only ever decreases while waiting).
export const queueOrderViolations = new Counter('queue_order_violations');

const JSON_HEADERS = { 'Content-Type': 'application/json' };

export function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

// Who calls: the user's access token.
function asUser(userId) {
  return { 'Content-Type': 'application/json', Authorization: `Bearer ${accessToken(userId)}` };
}

// Booking calls: who calls, and the admission the queue gave that user for the schedule.
function booking(queueToken, userId) {
  const headers = asUser(userId);
  headers['Queue-Token'] = queueToken;
  return headers;
}

// One request with its tag, trend, expected statuses; 503/429 are retried up to 3 times.
async function call(name, method, url, body, headers) {
  const params = { headers: headers || JSON_HEADERS, tags: { name }, responseCallback: callbacks[name] };
  let res;
  for (let attempt = 1; ; attempt++) {
    res = await http.asyncRequest(method, url, body === undefined ? null : body, params);
    trends[name].add(res.timings.duration);
    if (TIMELINE) record(res.status, EXPECTED[name].includes(res.status));
    if ((res.status === 503 || res.status === 429) && attempt <= 3) {
      shed.add(1, { name });
      await sleep(0.05 * attempt);
      continue;
    }
    return res;
  }
}

// Outcomes per wall-clock second of this VU (TIMELINE=1): second -> [ok, no answer (status 0:
// refused, reset, timed out), 5xx, other unexpected status], by the time the answer came.
const timeline = new Map();
function record(statusCode, ok) {
  const sec = Math.floor(Date.now() / 1000);
  let c = timeline.get(sec);
  if (!c) timeline.set(sec, (c = [0, 0, 0, 0]));
  c[ok ? 0 : statusCode === 0 ? 1 : statusCode >= 500 ? 2 : 3]++;
}
// One log line: "timeline vu=<id> <sec>:<ok>/<none>/<5xx>/<other> ..." (no quotes: k6 prints it
// unescaped inside msg="...").
function printTimeline() {
  const parts = [];
  for (const [sec, c] of [...timeline.entries()].sort((a, b) => a[0] - b[0])) parts.push(`${sec}:${c.join('/')}`);
  console.log(`timeline vu=${exec.vu.idInTest} ${parts.join(' ')}`);
}

function parse(res) {
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

export function enter(userId) {
  return call('enter', 'POST', `${base()}/queue/enter`, JSON.stringify({ scheduleId: SCHEDULE_ID }), asUser(userId));
}

export function status(userId) {
  return call('status', 'GET', `${base()}/queue/status?scheduleId=${SCHEDULE_ID}`, undefined, asUser(userId));
}

export function leave(userId) {
  return call('leave', 'DELETE', `${base()}/queue?scheduleId=${SCHEDULE_ID}`, undefined, asUser(userId));
}

export function seatMap() {
  return call('seats', 'GET', `${base()}/schedules/${SCHEDULE_ID}/seats`);
}

function seatBody(seatNos) {
  return JSON.stringify({ scheduleId: SCHEDULE_ID, seatNos });
}

// queueToken: the admission token from enterAndWait(); userId: who holds (its access token).
export function hold(queueToken, userId, seatNos) {
  return call('hold', 'POST', `${base()}/tickets/hold`, seatBody(seatNos), booking(queueToken, userId));
}

export function release(queueToken, userId, seatNos) {
  return call('release', 'POST', `${base()}/tickets/release`, seatBody(seatNos), booking(queueToken, userId));
}

export function ready(queueToken, userId, seatNos, idempotencyKey) {
  const headers = booking(queueToken, userId);
  headers['Idempotency-Key'] = idempotencyKey;
  return call('ready', 'POST', `${base()}/payment/ready`, seatBody(seatNos), headers);
}

// The gateway's callback: Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
export function pay(orderNo) {
  const body = JSON.stringify({ orderNo });
  const headers = { 'Content-Type': 'application/json' };
  if (GATEWAY_PLAIN) {
    headers['X-Gateway-Secret'] = GATEWAY_SECRET;
  } else {
    const t = Math.floor(Date.now() / 1000);
    headers['Gateway-Signature'] = `t=${t},v1=${crypto.hmac('sha256', GATEWAY_SECRET, `${t}.${body}`, 'hex')}`;
  }
  return call('pay', 'POST', `${base()}/payment/mock-success`, body, headers);
}

// The order as its owner sees it (someone else's is 404).
// waitMs > 0: the server answers when the CONFIRMING order settles, or after waitMs at most.
export function order(orderNo, userId, waitMs = 0) {
  const wait = waitMs > 0 ? `?waitMs=${waitMs}` : '';
  return call('order', 'GET', `${base()}/payment/${encodeURIComponent(orderNo)}${wait}`, undefined, asUser(userId));
}

// A pause of 50-100% of `seconds`, so clients on the same backoff schedule drift apart.
function jittered(seconds) {
  return seconds * (0.5 + 0.5 * Math.random());
}

// The next status call's pause (seconds): 75-100% of the server's pollAfterMs.
function advisedPause(body) {
  const advice = Number(body.pollAfterMs) > 0 ? Number(body.pollAfterMs) / 1000 : 1;
  return advice * (0.75 + 0.25 * Math.random());
}

// No answer (refused, reset, timed out) or a server error: worth asking again later.
function transient(res) {
  return res.status === 0 || res.status >= 500;
}

// Enter the queue and poll status until ADMITTED. Returns the token, or null (logged, counted in
// flow_errors) when the user was not admitted within ADMIT_TIMEOUT_S or the server refused.
// Polls when the server advises (pollAfterMs, docs/queue.md "Polling"): a poll before half of it
// is refused with 429. Each pause is jittered (75-100% of the advice): with one fixed schedule
// every user who entered in the same second would poll in the same millisecond, and the whole
// admitted batch would hit /tickets/hold at once instead of at the admission rate. A 429 (early
// after all: timers are late or early) waits Retry-After and asks again.
export async function enterAndWait(userId) {
  const t0 = Date.now();
  let res = await enter(userId);
  // A retried enter whose first try did reach the server is a waiter's re-enter, paced like a poll:
  // its 429 waits Retry-After, as a status call's does.
  for (let pause = 0.1; (transient(res) || res.status === 429) && Date.now() - t0 <= ADMIT_TIMEOUT_MS; pause = Math.min(pause * 2, 1)) {
    await sleep(res.status === 429 ? Number(res.headers['Retry-After'] || 1) : jittered(pause));
    res = await enter(userId);
  }
  let body = res.status === 200 ? parse(res) : null;
  if (!body) {
    flowErrors.add(1, { step: 'enter' });
    console.warn(`user ${userId}: enter answered ${res.status}: ${String(res.body).slice(0, 200)}`);
    return null;
  }
  let pause = advisedPause(body);
  let lastPosition = body.status === 'WAITING' ? body.position : Infinity;
  while (body.status !== 'ADMITTED') {
    if (Date.now() - t0 > ADMIT_TIMEOUT_MS) {
      flowErrors.add(1, { step: 'admission-timeout' });
      console.warn(`user ${userId}: not admitted after ${ADMIT_TIMEOUT_MS} ms (position ${body.position})`);
      return null;
    }
    await sleep(pause);
    res = await status(userId);
    // No answer or a 5xx (an instance or a store restarting): the client keeps polling until its
    // deadline, as a browser would; the failed request still counts in http_req_failed.
    if (transient(res) && Date.now() - t0 <= ADMIT_TIMEOUT_MS) {
      pause = jittered(1);
      continue;
    }
    if (res.status === 429) {
      pause = Number(res.headers['Retry-After'] || 1);
      continue;
    }
    body = res.status === 200 ? parse(res) : null;
    if (!body) {
      flowErrors.add(1, { step: 'status' });
      console.warn(`user ${userId}: status answered ${res.status}: ${String(res.body).slice(0, 200)}`);
      return null;
    }
    pause = advisedPause(body);
    if (body.status === 'WAITING') {
      if (body.position > lastPosition) {
        queueOrderViolations.add(1);
        console.warn(`user ${userId}: queue position went from ${lastPosition} to ${body.position}`);
      }
      lastPosition = body.position;
    }
  }
  admitWait.add(Date.now() - t0);
  return body.token;
}

// Wait for the order (as its owner, userId) to be PAID, CANCELLED or FAILED: GET /payment/{orderNo}
// with waitMs, which the server answers as soon as the CONFIRMING order settles (one call per
// booking instead of polling); asked again after a short pause if it is not final yet. Returns the
// final body, or null on timeout/error.
export async function waitFinal(orderNo, userId) {
  const t0 = Date.now();
  for (let pause = 0.05; ; pause = Math.min(pause * 1.5, 0.5)) {
    const res = await order(orderNo, userId, ORDER_WAIT_MS);
    const body = res.status === 200 ? parse(res) : null;
    if (body && (body.status === 'PAID' || body.status === 'CANCELLED' || body.status === 'FAILED')) return body;
    if ((!body && !transient(res)) || Date.now() - t0 > ORDER_TIMEOUT_MS) {
      flowErrors.add(1, { step: 'order-final' });
      console.warn(`order ${orderNo}: not final after ${Date.now() - t0} ms (last answer ${res.status})`);
      return null;
    }
    await sleep(jittered(pause)); // READY (not paid yet) or a transient error: ask again shortly
  }
}

// Thresholds shared by the scenarios: latency per endpoint that a scenario uses, errors overall.
export function latencyThresholds(limits) {
  const out = {};
  for (const name of Object.keys(limits)) {
    const [p95, p99] = limits[name];
    out[`${name}_ms`] = [`p(95)<${p95}`, `p(99)<${p99}`];
  }
  return out;
}

// Runs `flow(userId)` for users USER_OFFSET+1 .. USER_OFFSET+users, spread over the VUs of a
// `per-vu-iterations` scenario of `vus` VUs (1 iteration each): VU k takes users k, k+vus, k+2·vus, …
// and keeps `concurrency` of them in flight at once.
// With USERS_PER_SECOND, user u (1-based) starts no earlier than (u - 1) / rate seconds after the
// scenario started. With TIMELINE=1 the VU prints its per-second outcomes at the end.
export async function runUsers(users, vus, concurrency, userOffset, flow) {
  let next = exec.vu.idInTest;
  const start = exec.scenario.startTime;
  const take = () => {
    if (next > users) return null;
    const u = next;
    next += vus;
    return userOffset + u;
  };
  const workers = [];
  for (let i = 0; i < concurrency; i++) {
    workers.push(
      (async () => {
        for (let u = take(); u !== null; u = take()) {
          if (USERS_PER_SECOND > 0) {
            const wait = start + ((u - userOffset - 1) * 1000) / USERS_PER_SECOND - Date.now();
            if (wait > 0) await sleep(wait / 1000);
          }
          await flow(u);
        }
      })(),
    );
  }
  await Promise.all(workers);
  if (TIMELINE) printTimeline();
}

// Options every scenario here needs:
// - one idle connection kept per user in flight (k6's default of 6 per host would close and
//   reopen connections all the time);
// - fewer system tags: no `url` (each /payment/ORD-… would be a time series of its own), no
//   tls/proto/group tags; the endpoint is the `name` tag.
// An integer from the environment, `fallback` when unset or empty.
export function envInt(value, fallback) {
  return value === undefined || value === '' ? fallback : parseInt(value, 10);
}

// The options every scenario uses: `vus` VUs running one iteration each (each VU drives many users
// concurrently), batching sized for `concurrency` requests in flight, and the shared trend stats.
export function scenarioOptions(name, vus, concurrency, maxDuration, thresholds) {
  return Object.assign(connectionOptions(concurrency), {
    scenarios: {
      [name]: { executor: 'per-vu-iterations', vus: vus, iterations: 1, maxDuration: __ENV.MAX_DURATION || maxDuration },
    },
    summaryTrendStats: SUMMARY_TREND_STATS,
    thresholds: thresholds,
  });
}

export function connectionOptions(concurrency) {
  return {
    batch: Math.max(6, concurrency),
    batchPerHost: Math.max(6, concurrency),
    systemTags: ['status', 'method', 'name', 'scenario', 'expected_response', 'error_code'],
  };
}
