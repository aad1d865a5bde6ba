-- POST the signed deliveries of $BENCH_EVENTS ("signature<TAB>body" lines)
-- to the webhook, each thread its own share, in file order. The id of every
-- event answered 200 goes to $BENCH_ACKED_DIR/acked-<thread>.txt, for the
-- invariant check ("zero lost" means: every acknowledged event paid).
package.path = package.path .. ";./bench/lua/?.lua"
local common = require("common")

local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local mine, acked
local n = 0
exhausted = 0

setup = common.setup
done = common.done

function init()
  mine = {}
  local all = common.lines(os.getenv("BENCH_EVENTS"))
  for i = thread_id + 1, #all, threads do
    local signature, body = all[i]:match("^([^\t]+)\t(.+)$")
    mine[#mine + 1] = { signature = signature, body = body }
  end
  acked = assert(io.open(os.getenv("BENCH_ACKED_DIR") .. "/acked-" .. thread_id .. ".txt", "w"))
  acked:setvbuf("line")
end

function request()
  n = n + 1
  if n > #mine then
    -- Out of fresh events: send the first again (one more duplicate) and say so.
    exhausted = 1
    n = 1
  end
  local event = mine[n]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = event.signature,
  }, event.body)
end

function response(status, headers, body)
  if status == 200 then
    local id = body:match('"received":"(evt_[%w_]+)"')
    if id then acked:write(id, "\n") end
  end
end
