-- wrk script of the performance harness (e2e/bench/run.sh): POSTs the JSON
-- bodies of BENCH_BODIES (one a line; several are cycled, each thread from
-- its own offset) and writes a JSON summary to BENCH_OUT when done.
local bodies, n = {}, 0
for line in io.lines(os.getenv("BENCH_BODIES")) do
  if #line > 0 then n = n + 1; bodies[n] = line end
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if n == 1 then
  wrk.body = bodies[1]
else
  local i = 0
  local threads = 0
  function setup(thread)
    threads = threads + 1
    thread:set("offset", threads * 7919)
  end
  function init(args)
    i = (offset or 0) % n
  end
  function request()
    i = i % n + 1
    return wrk.format(nil, nil, nil, bodies[i])
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"connections":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    tonumber(os.getenv("BENCH_CONNS") or "0")))
  out:close()
end
