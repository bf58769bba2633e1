-- wrk script for bench/queue-enter-storm: POST /queue/enter, every request a different user.
--
-- Environment (set by bench/queue-enter-storm; defaults for running wrk by hand):
--   BENCH_TOKENS       `ticketing token mint --users 1-N` output: "userId accessToken" lines,
--                      ascending consecutive ids (required)
--   BENCH_USERS        seeded users (ids 1..N) to spread over the threads    (default 1000000)
--   BENCH_THREADS      must equal wrk -t                                       (default 2)
--   BENCH_SCHEDULE_ID  schedule to enter                                       (default 1)
--
-- Thread t (0-based) owns the id range [1 + t*span, (t+1)*span] with span = floor(users/threads)
-- and walks it with a counter, so no two requests of a run come from the same user: the user is
-- the one of the access token (Authorization: Bearer), the body is only {"scheduleId":N}. When a
-- thread runs past the end of its range it starts again at the beginning ("wrapped"): those
-- requests are repeat enters (cheaper: the user is already queued), and done() reports how many
-- there were.
--
-- The token file is large (~270 bytes a user: ~550 MB for 2,000,000 users), so it is read once, by
-- the first setup() call in wrk's main Lua state, into C memory (one buffer and an index of where
-- each user's token starts), before any thread runs; the threads only get the addresses (LuaJIT
-- FFI) and copy one token per request out of the shared, read-only buffer. Loading it in each
-- thread's init() instead would let thread 0 storm alone while thread 1 still reads (wrk starts
-- each thread right after its init, and its clock after the last one), and would put the whole
-- file into each thread's Lua heap.
--
-- Errors are counted from wrk's own summary in done() (summary.errors.status counts every response
-- with a status >= 400); there is deliberately no response() hook, because wrk then hands every
-- response's headers and body to Lua, and wrk shares the 2 cores with the server.
-- done() prints one machine-readable line starting with "BENCH " that the bench script parses.

local ffi = require("ffi")
ffi.cdef [[
void *malloc(size_t size);
void *memchr(const void *s, int c, size_t n);
]]

local users = tonumber(os.getenv("BENCH_USERS") or "1000000")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local schedule = tonumber(os.getenv("BENCH_SCHEDULE_ID") or "1")
local tokens_file = os.getenv("BENCH_TOKENS")

local threads = {}
local next_tid = 0
local shared -- main state: {buf, starts, lens, first, count} as numbers (addresses), see load_tokens()

local function address(ptr) return tonumber(ffi.cast("uintptr_t", ptr)) end

-- Reads the whole token file into malloc'ed memory (outside the LuaJIT heap, never freed: it
-- lives as long as wrk) and indexes it: starts[i], lens[i] = the token of user first + i.
local function load_tokens()
  if not tokens_file then error("BENCH_TOKENS is not set (ticketing token mint --users 1-N --out FILE)") end
  local f = assert(io.open(tokens_file, "rb"))
  local size = f:seek("end")
  f:seek("set", 0)
  if size == 0 then error(tokens_file .. " is empty") end
  local buf = ffi.cast("char *", ffi.C.malloc(size))
  if buf == nil then error("out of memory reading " .. tokens_file) end
  local off = 0
  while off < size do
    local chunk = f:read(math.min(4 * 1024 * 1024, size - off))
    if not chunk then break end
    ffi.copy(buf + off, chunk, #chunk)
    off = off + #chunk
  end
  f:close()
  if off ~= size then error("short read of " .. tokens_file) end
  -- Lines: an upper bound on their number, for the index arrays (a token is > 100 bytes).
  local cap = math.floor(size / 100) + 1
  local starts = ffi.cast("int64_t *", ffi.C.malloc(8 * cap))
  local lens = ffi.cast("int32_t *", ffi.C.malloc(4 * cap))
  local count, first, pos = 0, nil, 0
  while pos < size do
    local nl = ffi.C.memchr(buf + pos, 10, size - pos)
    local eol = nl == nil and size or tonumber(ffi.cast("char *", nl) - buf)
    if eol > pos then
      local sp = ffi.C.memchr(buf + pos, 32, eol - pos)
      if sp == nil then error("bad line " .. (count + 1) .. " in " .. tokens_file) end
      local sp_at = tonumber(ffi.cast("char *", sp) - buf)
      local user = tonumber(ffi.string(buf + pos, sp_at - pos))
      if not user then error("bad user id on line " .. (count + 1) .. " of " .. tokens_file) end
      first = first or user
      if user ~= first + count then
        error(tokens_file .. ": line " .. (count + 1) .. " is user " .. user .. ", expected " .. (first + count) ..
              " (ascending consecutive ids, as ticketing token mint writes them)")
      end
      if count >= cap then error(tokens_file .. ": more lines than expected") end
      starts[count] = sp_at + 1
      lens[count] = eol - sp_at - 1
      count = count + 1
    end
    pos = eol + 1
  end
  if count == 0 then error(tokens_file .. " has no tokens") end
  return { buf = address(buf), starts = address(starts), lens = address(lens), first = first, count = count }
end

function setup(thread)
  -- The first call comes before wrk starts any thread.
  if not shared then shared = load_tokens() end
  thread:set("tid", next_tid)
  for k, v in pairs(shared) do thread:set("tok_" .. k, v) end
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

-- counter and wrapped are globals so that done() can read them with thread:get().
local span, first, index0
local prefix, suffix
local tbuf, tstarts, tlens
counter, wrapped = 0, 0

function init(args)
  -- tid and tok_* are set by setup() in this thread's Lua state before init() runs.
  span = math.floor(users / nthreads)
  if span < 1 then error("BENCH_USERS must be at least BENCH_THREADS") end
  first = 1 + tid * span
  -- The token of user u is entry u - tok_first of the shared index.
  index0 = first - tok_first
  if index0 < 0 or index0 + span > tok_count then
    error(string.format("BENCH_TOKENS has users %d-%d; thread %d needs %d-%d (mint tokens for 1-BENCH_USERS)",
                        tok_first, tok_first + tok_count - 1, tid, first, first + span - 1))
  end
  tbuf = ffi.cast("const char *", ffi.cast("uintptr_t", tok_buf))
  tstarts = ffi.cast("const int64_t *", ffi.cast("uintptr_t", tok_starts))
  tlens = ffi.cast("const int32_t *", ffi.cast("uintptr_t", tok_lens))
  counter = 0
  wrapped = 0
  -- Built by hand rather than with wrk.format(): no table per request, fewer wrk CPU cycles.
  -- The body is the same for everyone; only the token differs.
  local body = '{"scheduleId":' .. schedule .. '}'
  prefix = "POST /queue/enter HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port ..
           "\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\nAuthorization: Bearer "
  suffix = "\r\n\r\n" .. body
end

function request()
  local n = counter
  counter = counter + 1
  if n >= span then
    wrapped = wrapped + 1
    n = n % span
  end
  local i = index0 + n
  return prefix .. ffi.string(tbuf + tstarts[i], tlens[i]) .. suffix
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
