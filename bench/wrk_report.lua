-- wrk script for bench/run.py: GET an endpoint, or POST widget votes from a token file.
--
-- GET mode (BENCH_TOKENS unset): requests as a browser's (Accept-Encoding); BENCH_IF_NONE_MATCH
-- adds a conditional header.
-- BENCH_BODY (or BENCH_BEACON, the seen beacon) makes each a POST of that form body, with
-- BENCH_COOKIE and BENCH_REFERER where set (the tutorial's vote: a fixed CSRF cookie and token
-- pair, which Django accepts however often it is sent).
-- Vote mode (BENCH_TOKENS=<file>): each line of the file is one form body
-- ("choice=<id>&token=<single-use token>"), sent once and never again; no cookies are sent, so
-- each vote is a new voter. The lines are dealt out to the threads. When a thread has sent all of
-- its lines it only asks for /healthz, so a run long enough to use every token sends exactly as
-- many votes as the file has lines, and it stops as soon as every vote has been answered: the
-- exact-count runs rely on this. A timed run that ran out of tokens is rejected by run.py.
-- BENCH_MANY_ADDRESSES=1: each vote comes from an address of its own, as a reverse proxy says in
-- X-Forwarded-For (the bench server trusts 127.0.0.1 as its proxy); otherwise all votes come
-- from one address, 127.0.0.1.
-- done() prints one line "BENCH {json}" with the figures run.py reads.

local tokens_file = os.getenv("BENCH_TOKENS")
local if_none_match = os.getenv("BENCH_IF_NONE_MATCH")
local origin = os.getenv("BENCH_ORIGIN")
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local many_addresses = os.getenv("BENCH_MANY_ADDRESSES") == "1"
local fixed_body = os.getenv("BENCH_BODY") or os.getenv("BENCH_BEACON")

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Globals, not locals: done() reads them from each thread with thread:get().
bodies = {}
sent, fallback, answered, acked, refused = 0, 0, 0, 0, 0
local vote_path

-- wrk calls request() once on the first thread to check the script before it connects
-- (script_verify_request in wrk.c); that call must not use up a token.
local verifying = false

function init(args)
  verifying = (id == 0)
  if tokens_file == nil then
    -- As every browser asks: the widget is then sent gzipped, as readers get it.
    wrk.headers["Accept-Encoding"] = "gzip, deflate, br, zstd"
    if if_none_match then
      wrk.headers["If-None-Match"] = if_none_match
    end
    if fixed_body then
      wrk.method = "POST"
      wrk.body = fixed_body
      wrk.headers["Content-Type"] = "application/x-www-form-urlencoded;charset=UTF-8"
      wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
      wrk.headers["Referer"] = os.getenv("BENCH_REFERER")
    end
    return
  end
  vote_path = wrk.path
  local index = 0
  for line in io.lines(tokens_file) do
    if index % thread_count == id then
      table.insert(bodies, line)
    end
    index = index + 1
  end
end

function request()
  if tokens_file == nil then
    return wrk.format()
  end
  if verifying then
    verifying = false
    return wrk.format("GET", "/healthz", {})
  end
  sent = sent + 1
  local body = bodies[sent]
  if body == nil then
    fallback = fallback + 1
    return wrk.format("GET", "/healthz", {})
  end
  -- As the widget's script votes: it asks for the JSON answer (readers without JavaScript
  -- post the same form and get the widget page).
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
  }
  if origin then
    headers["Origin"] = origin
  end
  if many_addresses then
    -- One address per vote in 198.18.0.0/15 (set aside for benchmarks): the thread's lines
    -- are numbered, so no two votes of a run share an address while a run sends under 131,072.
    local n = ((sent - 1) * thread_count + id) % 131072
    headers["X-Forwarded-For"] = string.format(
      "198.%d.%d.%d", 18 + math.floor(n / 65536), math.floor(n / 256) % 256, n % 256
    )
  end
  return wrk.format("POST", vote_path, headers, body)
end

if tokens_file ~= nil then
  function response(status, headers, body)
    if body == "ok\n" then
      return
    end
    answered = answered + 1
    if status == 200 and string.find(body, "your vote was counted", 1, true) then
      acked = acked + 1
    else
      refused = refused + 1
    end
    if answered == #bodies then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local totals = {sent = 0, fallback = 0, answered = 0, acked = 0, refused = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, '
      .. '"bad_status": %d, "socket_errors": %d, "votes_sent": %d, "fallback": %d, '
      .. '"answered": %d, "acked": %d, "refused": %d}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    totals.sent - totals.fallback, totals.fallback, totals.answered, totals.acked, totals.refused
  ))
end
