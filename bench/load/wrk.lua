-- wrk script for the bench: optional bearer tokens (one per line in the file given after `--`),
-- sent round-robin; a single JSON line summarises the run for bench/load/wrk.ts.
local tokens = {}
local count = 0
local next_index = 0

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

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
