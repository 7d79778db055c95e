-- POST pre-built JSON bodies (one per line of $TRACEBIN_BENCH_BODIES) to $TRACEBIN_BENCH_PATH,
-- rotating through them; "EVENT_ID_PLACEHOLDER_0000000000000" (32 chars) in a body becomes a unique
-- event id (run prefix + thread + counter) so dedupe never short-cuts the write path.
-- Counts 2xx / other replies per thread and prints one JSON line in done().

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = os.getenv("TRACEBIN_BENCH_PATH") or "/exceptions"
  prefix = os.getenv("TRACEBIN_BENCH_PREFIX") or "0000000000000000"
  bodies = {}
  for line in io.lines(os.getenv("TRACEBIN_BENCH_BODIES")) do
    if #line > 0 then table.insert(bodies, line) end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local auth = os.getenv("TRACEBIN_BENCH_AUTH")
  if auth and #auth > 0 then wrk.headers["Authorization"] = "Basic " .. auth end
  counter = 0
  ok = 0
  other = 0
end

function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  local id = prefix .. string.format("%04x%012x", tid, counter)
  body = string.gsub(body, "EVENT_ID_PLACEHOLDER_0000000000000", id, 1)
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
  end
  local e = summary.errors
  -- The latency quantiles on a grid of percentiles, so runs can be merged into one distribution.
  local grid = {}
  for tenth = 5, 995, 5 do
    table.insert(grid, string.format("[%g, %d]", tenth / 10, latency:percentile(tenth / 10)))
  end
  for _, p in ipairs({99.6, 99.7, 99.8, 99.9, 99.95, 99.99}) do
    table.insert(grid, string.format("[%g, %d]", p, latency:percentile(p)))
  end
  table.insert(grid, string.format("[100, %d]", latency.max))
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "ok": %d, "other": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "socket_errors": %d, "quantiles": [%s]}\n',
    summary.requests, summary.duration, total_ok, total_other,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, table.concat(grid, ", ")))
end
