-- wrk script for bench/hold-storm: POST /tickets/hold, one pre-generated row per request.
--
-- Environment (set by bench/hold-storm):
--   BENCH_ROWS         file of "userId queueToken seat[,seat...]" lines (queueToken: the user's
--                      admission token for the schedule, sent in Queue-Token)
--   BENCH_TOKENS       `ticketing token mint` output, "userId accessToken" lines: each row's user is
--                      the caller (Authorization: Bearer <accessToken>); no userId in the body
--   BENCH_THREADS      must equal wrk -t                                           (default 2)
--   BENCH_SCHEDULE_ID  schedule of the holds                                        (default 2)
--   BENCH_MODE         once  -- every row exactly once, then the run ends (storm (a): distinct seats)
--                      cycle -- rows over and over until wrk's -d ends (storm (b): contention)
--   BENCH_DONE_FILE    once mode: each thread appends a line here when all its rows are answered;
--                      the thread that completes the set sends SIGINT to wrk, which ends the run
--                      (wrk's -d is only the safety cap then)
--
-- Thread t (0-based) takes rows t+1, t+1+threads, ... Requests are built once in init() (the
-- access tokens of its rows' users read from BENCH_TOKENS there), so the measured loop only hands
-- out strings. In once mode a delay() hook reserves a row for a
-- connection before it sends: a connection that finds no row left is parked (never sends again),
-- so exactly one request per row goes out, however many connections there are.
--
-- A response() hook counts statuses (wrk itself only counts ">= 400") and measures every request's
-- raw latency: each request carries "X-Request-Id: b<n>", which the service echoes, and the hook
-- matches it to the send time taken in request(). wrk's own percentiles are "corrected for
-- coordinated omission" (stats_correct: every slow answer adds synthetic samples at multiples of
-- the mean inter-request interval of a connection), which inflates the tail of a closed-loop storm;
-- both are reported. done() prints one machine-readable "BENCH ..." line: wrk's percentiles, the
-- raw ones (raw_*), the status counts, and the wall-clock span from the first request sent to the
-- last answer (across threads), which is what holds/s is computed from (wrk's own req/s divides
-- by the whole -d window, which in once mode ends with the SIGINT).

local ffi = require("ffi")
ffi.cdef [[
struct bench_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct bench_timespec *tp);
int kill(int pid, int sig);
int getpid(void);
]]
local ts = ffi.new("struct bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME: comparable across threads and with other tools
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local function mono_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: per-request latency
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local rows_file = os.getenv("BENCH_ROWS") or error("BENCH_ROWS is not set")
local tokens_file = os.getenv("BENCH_TOKENS") or error("BENCH_TOKENS is not set (ticketing token mint output)")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local schedule = tonumber(os.getenv("BENCH_SCHEDULE_ID") or "2")
local mode = os.getenv("BENCH_MODE") or "once"
local done_file = os.getenv("BENCH_DONE_FILE")
if mode ~= "once" and mode ~= "cycle" then error("BENCH_MODE must be once or cycle") end
if mode == "once" and not done_file then error("BENCH_DONE_FILE is needed in once mode") end

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

-- Globals so that done() can read them with thread:get().
sent, answered, extra, nrows = 0, 0, 0, 0
first_ms, last_ms = 0, 0
counts = ""
local heads, tails = {}, {}
local reserved = 0
local verify_call = false
local by_status = {}
local seq = 0
local pending = {}     -- request id -> send time (mono ms)
lats = {}              -- raw per-request latencies (ms) of this thread, read by done()
unmatched = 0          -- answers without a known X-Request-Id (should stay 0)

function init(args)
  local i = 0
  local prefix = "POST /tickets/hold HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port ..
                 "\r\nContent-Type: application/json\r\nAuthorization: Bearer "
  local mine = {} -- this thread's rows: {user, queue token, seats}
  local wanted = {} -- user id -> false until its access token is found
  for line in io.lines(rows_file) do
    if line:match("%S") then
      if i % nthreads == tid then
        local user, token, seats = line:match("^(%d+)%s+(%S+)%s+(%S+)")
        if not user then error("bad row in " .. rows_file .. ": " .. line) end
        mine[#mine + 1] = { user, token, seats }
        wanted[user] = false
      end
      i = i + 1
    end
  end
  for line in io.lines(tokens_file) do
    local user, access = line:match("^(%d+) (%S+)")
    if user and wanted[user] == false then wanted[user] = access end
  end
  for _, row in ipairs(mine) do
    local user, token, seats = row[1], row[2], row[3]
    local access = wanted[user] or error("no access token for user " .. user .. " in " .. tokens_file)
    local list = {}
    for seat in seats:gmatch("[^,]+") do list[#list + 1] = '"' .. seat .. '"' end
    local body = '{"scheduleId":' .. schedule .. ',"seatNos":[' .. table.concat(list, ",") .. ']}'
    -- The id goes between head and tail; the server echoes X-Request-Id in the response.
    heads[#heads + 1] = prefix .. access .. "\r\nQueue-Token: " .. token .. "\r\nContent-Length: " .. #body ..
                        "\r\nX-Request-Id: b"
    tails[#tails + 1] = "\r\n\r\n" .. body
  end
  nrows = #heads
  verify_call = (tid == 0)
  if nrows == 0 then error("thread " .. tid .. " has no rows in " .. rows_file) end
end

if mode == "once" then
  function delay()
    if reserved >= nrows then return 24 * 3600 * 1000 end -- no row left: park this connection
    reserved = reserved + 1
    return 0
  end
end

local function build(n)
  local id = seq * nthreads + tid -- unique across threads
  seq = seq + 1
  pending[id] = mono_ms()
  return heads[n] .. id .. tails[n]
end

function request()
  if verify_call then
    -- wrk calls request() once in thread 0's state before the run, to check the request it
    -- returns (script_verify_request): not a request of the run, so no row is used up.
    verify_call = false
    return heads[1] .. "verify" .. tails[1]
  end
  if first_ms == 0 then first_ms = now_ms() end
  local n = sent
  sent = sent + 1
  if n >= nrows then
    if mode == "once" then
      -- Only after a socket error made wrk resend without asking delay(): count it, repeat a row.
      extra = extra + 1
      return build(nrows)
    end
    n = n % nrows
  end
  return build(n + 1)
end

local function finish_thread()
  last_ms = now_ms()
  local f = assert(io.open(done_file, "a"))
  f:write(tid, "\n")
  f:close()
  local lines = 0
  for _ in io.lines(done_file) do lines = lines + 1 end
  if lines >= nthreads then ffi.C.kill(ffi.C.getpid(), 2) end -- SIGINT: wrk prints its results
end

function response(status, headers, body)
  local t = mono_ms()
  answered = answered + 1
  local rid = headers["X-Request-Id"] or headers["x-request-id"]
  local id = rid and tonumber(rid:sub(2))
  local t0 = id and pending[id]
  if t0 then
    pending[id] = nil
    lats[#lats + 1] = t - t0
  else
    unmatched = unmatched + 1
  end
  by_status[status] = (by_status[status] or 0) + 1
  local parts = {}
  for code, n in pairs(by_status) do parts[#parts + 1] = code .. ":" .. n end
  counts = table.concat(parts, ",")
  if mode == "once" then
    if answered == nrows then finish_thread() end
  else
    last_ms = now_ms()
  end
end

function done(summary, latency, requests)
  local total = {}
  local t_first, t_last, t_sent, t_answered, t_extra, t_rows = math.huge, 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    local c = t:get("counts") or ""
    for code, n in c:gmatch("(%d+):(%d+)") do total[code] = (total[code] or 0) + tonumber(n) end
    local f, l = t:get("first_ms") or 0, t:get("last_ms") or 0
    if f > 0 and f < t_first then t_first = f end
    if l > t_last then t_last = l end
    t_sent = t_sent + (t:get("sent") or 0)
    t_answered = t_answered + (t:get("answered") or 0)
    t_extra = t_extra + (t:get("extra") or 0)
    t_rows = t_rows + (t:get("nrows") or 0)
  end
  local parts, other = {}, 0
  local codes = {}
  for code in pairs(total) do codes[#codes + 1] = code end
  table.sort(codes)
  for _, code in ipairs(codes) do
    parts[#parts + 1] = code .. ":" .. total[code]
    if code ~= "200" and code ~= "409" then other = other + total[code] end
  end
  local all, t_unmatched = {}, 0
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("lats") or {}) do all[#all + 1] = v end
    t_unmatched = t_unmatched + (t:get("unmatched") or 0)
  end
  table.sort(all)
  local function pct(p) -- nearest rank
    if #all == 0 then return 0 end
    return all[math.max(1, math.min(#all, math.ceil(p / 100 * #all)))]
  end
  local span_s = (t_first < math.huge and t_last > t_first) and (t_last - t_first) / 1000 or 0
  local e = summary.errors
  io.write(string.format(
    "BENCH mode=%s rows=%d sent=%d answered=%d extra=%d span_s=%.3f rps=%.1f ok=%d ok_per_s=%.1f " ..
    "wrk_requests=%d wrk_duration_s=%.3f p50_ms=%.3f p75_ms=%.3f p90_ms=%.3f p95_ms=%.3f p99_ms=%.3f " ..
    "p999_ms=%.3f max_ms=%.3f mean_ms=%.3f statuses=%s other_status=%d connect_errors=%d " ..
    "read_errors=%d write_errors=%d timeouts=%d raw_n=%d raw_p50_ms=%.3f raw_p95_ms=%.3f raw_p99_ms=%.3f " ..
    "raw_p999_ms=%.3f raw_max_ms=%.3f unmatched=%d\n",
    mode, t_rows, t_sent, t_answered, t_extra, span_s, span_s > 0 and t_answered / span_s or 0,
    total["200"] or 0, span_s > 0 and (total["200"] or 0) / span_s or 0,
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(75) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000, latency.mean / 1000, #parts > 0 and table.concat(parts, ",") or "none", other,
    e.connect, e.read, e.write, e.timeout, #all, pct(50), pct(95), pct(99), pct(99.9), pct(100), t_unmatched))
end
