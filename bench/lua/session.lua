-- GET or POST one path, each request as the next logged-in user of
-- $BENCH_SESSIONS ("cookie<TAB>csrf token" lines); anonymous without it.
package.path = package.path .. ";./bench/lua/?.lua"
local common = require("common")

local sessions = {}
for _, line in ipairs(common.lines(os.getenv("BENCH_SESSIONS"))) do
  local cookie, csrf = line:match("^([^\t]+)\t(.+)$")
  sessions[#sessions + 1] = { cookie = cookie, csrf = csrf }
end
local method = os.getenv("BENCH_METHOD") or "GET"
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local n = 0

setup = common.setup
done = common.done

function request()
  local headers = {}
  local body = nil
  if #sessions > 0 then
    local s = sessions[(n * threads + thread_id) % #sessions + 1]
    headers["Cookie"] = s.cookie
    if method == "POST" then
      headers["Content-Type"] = "application/x-www-form-urlencoded"
      body = "csrf_token=" .. s.csrf
    end
  end
  n = n + 1
  return wrk.format(method, nil, headers, body)
end
