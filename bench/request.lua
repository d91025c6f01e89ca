-- The request of one wrk run, the same for the baseline and rosterflow (see bench/run.sh):
--   BENCH_METHOD      GET or PATCH
--   BENCH_BODY_FILE   the request body (PATCH), sent with Content-Type: application/json
--   BENCH_TOKEN       the bearer token, sent as Authorization: Bearer ...
--   BENCH_PATHS_FILE  request paths, one a line; with more than one, requests take them in turn
--                     (the URL given to wrk only names the server then)
--   BENCH_RANDOM      1: take the paths at random instead of in turn
-- At the end it prints one machine-readable line that bench/run.sh parses:
--   BENCH requests=N seconds=S rps=R p50_us=.. p99_us=.. max_us=.. non2xx=N errors=N

local method = os.getenv("BENCH_METHOD") or "GET"
local body_file = os.getenv("BENCH_BODY_FILE") or ""
local token = os.getenv("BENCH_TOKEN") or ""
local paths_file = os.getenv("BENCH_PATHS_FILE") or ""
local random = os.getenv("BENCH_RANDOM") == "1"

wrk.method = method
wrk.headers["Accept"] = "application/json"
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = (f:read("*a"):gsub("%s+$", ""))
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end

local paths = {}
if paths_file ~= "" then
  for path in io.lines(paths_file) do
    if path ~= "" then paths[#paths + 1] = path end
  end
end
if #paths == 1 then
  wrk.path = paths[1]
elseif #paths > 1 then
  -- Pre-formatted, so the cost on wrk's side is one Lua call a request.
  local requests, i = {}, 0
  for n, path in ipairs(paths) do requests[n] = wrk.format(nil, path) end
  if random then
    math.randomseed(os.time())
    function request()
      return requests[math.random(#requests)]
    end
  else
    function request()
      i = i % #requests + 1
      return requests[i]
    end
  end
end

function done(summary, latency, _)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.0f p50_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
