-- Shared by the wrk scripts of bench/run.sh: reading input files and the
-- one-line machine-readable summary run.sh parses.
local M = {}

function M.lines(path)
  local out = {}
  if not path or path == "" then return out end
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  file:close()
  return out
end

-- Threads get a number each, so they can split an input file between them.
local threads = {}
function M.setup(thread)
  thread:set("thread_id", #threads)
  threads[#threads + 1] = thread
end

function M.done(summary, latency)
  local socket = summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  local exhausted = 0
  for _, thread in ipairs(threads) do
    exhausted = exhausted + (thread:get("exhausted") or 0)
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"socket_errors":%d,"http_errors":%d,"exhausted":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, socket, summary.errors.status, exhausted))
end

return M
