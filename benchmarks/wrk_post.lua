-- wrk script for benchmarks/wrk_load.py: POST the JSON bodies of a file (one per line) in turn,
-- and print wrk's latency summary as one JSON line (prefix WRK_JSON) for the Python side to parse.
--
--   wrk -t1 -c32 -d10s --timeout 30s -s benchmarks/wrk_post.lua http://127.0.0.1:3000/entailment -- bodies.txt
--
-- Each connection sends its next request as soon as the previous answer is in (no pacing).
-- Requests are formatted once, in init(), so the client spends its CPU on the sockets.

local prepared = {}
local next_index = 1

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s wrk_post.lua URL -- BODIES_FILE")
  end
  local file = assert(io.open(path, "r"))
  local headers = { ["Content-Type"] = "application/json" }
  for line in file:lines() do
    if #line > 0 then
      prepared[#prepared + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  file:close()
  if #prepared == 0 then
    error("no request bodies in " .. path)
  end
end

function request()
  local req = prepared[next_index]
  next_index = next_index % #prepared + 1
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f, "stdev": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, latency.stdev
  ))
end
