-- wrk script for the benchmark: POSTs the file $BODY (GETs when unset) and
-- prints one line, RESULT {json}, that scripts/bench.sh parses. With
-- $HEADER_LEN set, the body is an Open Inference Protocol binary request
-- whose JSON header is that many bytes.
local path = os.getenv("BODY")
if path and path ~= "" then
  local f = assert(io.open(path, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  local hlen = os.getenv("HEADER_LEN")
  if hlen and hlen ~= "" then
    wrk.headers["Content-Type"] = "application/octet-stream"
    wrk.headers["Inference-Header-Content-Length"] = hlen
  else
    wrk.headers["Content-Type"] = "application/json"
  end
end

-- Per-status counts, gathered from each thread in done(), only with
-- $COUNT_STATUS set: a response() callback costs wrk about 10% of its rate,
-- which matters when the server is as fast as the HTTP floor.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
if os.getenv("COUNT_STATUS") then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      counts[#counts + 1] = string.format('"%d":%d', status, n)
    end
  end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"non2xx":%d,"status":{%s}}\n',
    summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status, table.concat(counts, ",")))
end
