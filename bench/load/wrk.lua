-- wrk script for the bench: optional bearer tokens (one per line in the file given after `--`),
-- sent round-robin; a single JSON line summarises the run for bench/load/wrk.ts.
-- With BENCH_RATE set (req/s) the load is paced: the k-th request falls due at start + k / rate,
-- and the connection that sends it waits for that moment (wrk's delay(), whole ms, rounded). A
-- request sent more than 1 ms after it fell due, because every connection was still busy, is
-- counted in `late`: wrk's latency starts at the send, so that wait is not in it. `p99_late_us`
-- counts the late ones as slower than every answer: the latency at percentile 99 + their share,
-- or -1 when they are 1% or more (no p99 holds then).
local tokens = {}
local count = 0
local next_index = 0
late = 0

function init(args)
  if args[1] then
    for line in io.lines(args[1]) do
      count = count + 1
      tokens[count] = { Authorization = "Bearer " .. line }
    end
  end
end

function request()
  if count == 0 then
    return wrk.format()
  end
  next_index = next_index % count + 1
  return wrk.format(nil, nil, tokens[next_index])
end

local rate = tonumber(os.getenv("BENCH_RATE"))
if rate then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *ts);
  ]]
  local CLOCK_MONOTONIC = 1
  local now = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
    return tonumber(now.tv_sec) * 1000 + tonumber(now.tv_nsec) / 1e6
  end
  local interval = 1000 / rate
  local due

  function delay()
    local t = now_ms()
    due = (due or t) + interval
    local wait = due - t
    if wait < -1 then late = late + 1 end
    return wait > 0 and math.floor(wait + 0.5) or 0
  end
end

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local e = summary.errors
  local sent_late = 0
  for _, thread in ipairs(threads) do sent_late = sent_late + thread:get("late") end
  local late_share = summary.requests > 0 and sent_late / summary.requests or 1
  local p99_late = late_share < 0.01 and latency:percentile(99 + 100 * late_share) or -1
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"late":%d,"p99_late_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, sent_late, p99_late))
end
