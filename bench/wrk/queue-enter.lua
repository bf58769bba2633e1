-- wrk script for bench/queue-enter-storm: POST /queue/enter, every request a different user.
--
-- Environment (set by bench/queue-enter-storm; defaults for running wrk by hand):
--   BENCH_USERS        seeded users (ids 1..N) to spread over the threads    (default 1000000)
--   BENCH_THREADS      must equal wrk -t                                       (default 2)
--   BENCH_SCHEDULE_ID  schedule to enter                                       (default 1)
--
-- Thread t (0-based) owns the id range [1 + t*span, (t+1)*span] with span = floor(users/threads)
-- and walks it with a counter, so no two requests of a run carry the same userId. When a thread
-- runs past the end of its range it starts again at the beginning ("wrapped"): those requests are
-- repeat enters (cheaper: the user is already queued), and done() reports how many there were.
--
-- Errors are counted from wrk's own summary in done() (summary.errors.status counts every response
-- with a status >= 400); there is deliberately no response() hook, because wrk then hands every
-- response's headers and body to Lua, and wrk shares the 2 cores with the server.
-- done() prints one machine-readable line starting with "BENCH " that the bench script parses.

local users = tonumber(os.getenv("BENCH_USERS") or "1000000")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local schedule = tonumber(os.getenv("BENCH_SCHEDULE_ID") or "1")

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

-- counter and wrapped are globals so that done() can read them with thread:get().
local span, first
local prefix, suffix
counter, wrapped = 0, 0

function init(args)
  -- tid is set by setup() in this thread's Lua state before init() runs.
  span = math.floor(users / nthreads)
  if span < 1 then error("BENCH_USERS must be at least BENCH_THREADS") end
  first = 1 + tid * span
  counter = 0
  wrapped = 0
  -- Built by hand rather than with wrk.format(): no table per request, fewer wrk CPU cycles.
  prefix = "POST /queue/enter HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port ..
           "\r\nContent-Type: application/json\r\nContent-Length: "
  suffix = ',"scheduleId":' .. schedule .. '}'
end

function request()
  local n = counter
  counter = counter + 1
  if n >= span then
    wrapped = wrapped + 1
    n = n % span
  end
  local body = '{"userId":' .. (first + n) .. suffix
  return prefix .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
  local total_wrapped, max_counter = 0, 0
  for _, t in ipairs(threads) do
    total_wrapped = total_wrapped + (t:get("wrapped") or 0)
    local c = t:get("counter") or 0
    if c > max_counter then max_counter = c end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p75_ms=%.3f p90_ms=%.3f p95_ms=%.3f " ..
    "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f status_errors=%d connect_errors=%d " ..
    "read_errors=%d write_errors=%d timeouts=%d wrapped=%d span=%d max_thread_requests=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(75) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.status, e.connect, e.read, e.write, e.timeout, total_wrapped, math.floor(users / nthreads), max_counter))
end
