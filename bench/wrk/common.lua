-- common.lua: what every wrk scenario of bench/ shares. A scenario script starts with
--   local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
-- and then defines init(args) (calling C.init(args) first) and request().
--
-- Arguments after wrk's "--" are key=value pairs, read into the global A (numbers converted).
-- Every response's status is counted per thread; done() prints one line that bench/run parses:
--   RESULT requests=N duration_us=N rps=N p50_us=N p90_us=N p99_us=N max_us=N connect=N
--          read=N write=N timeout=N codes=200:N,409:N exhausted=N
-- exhausted > 0 says that many threads ran out of their prepared inputs and stopped early.
local C = {}

statuses = {}
exhausted = 0
tid = 0 -- 1-based thread number, set by setup()

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes, ex = {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do codes[k] = (codes[k] or 0) + v end
    ex = ex + (t:get("exhausted") or 0)
  end
  local keys = {}
  for k in pairs(codes) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. ":" .. codes[k] end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d timeout=%d codes=%s exhausted=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ","), ex))
end

-- Parses "key=value" arguments into the global A. With max=N (any scenario), the threads
-- stop after N requests in all (bench/profile bounds a profiled worker's requests so).
function C.init(args)
  A = {}
  for _, a in ipairs(args or {}) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then A[k] = tonumber(v) or v end
  end
  math.randomseed(os.time() * 1000 + tid * 7919)
  if A.max then
    local inner, n, quota = request, 0, math.max(1, math.floor(A.max / (A.threads or 1)))
    request = function()
      n = n + 1
      if n >= quota then C.exhaust() end
      return inner()
    end
  end
end

-- Reads this thread's share of lines [offset, offset + count) of a file (all when count is
-- absent): every nthreads-th line, starting at the thread's own, so threads never share one.
-- With field = n, keeps only the n-th whitespace-separated field of each line.
function C.lines(path, offset, count, field)
  local out, i = {}, 0
  local nt = A.threads or 1
  offset = offset or 0
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if count and i >= offset + count then break end
    if i >= offset and (i - offset) % nt == tid - 1 and line ~= "" then
      if field then
        local n = 0
        for w in line:gmatch("%S+") do
          n = n + 1
          if n == field then line = w break end
        end
      end
      out[#out + 1] = line
    end
    i = i + 1
  end
  f:close()
  return out
end

-- Marks this thread as out of inputs and stops it. wrk itself would still wait for the end of
-- -d: with donefile=PATH each stopped thread appends a line there, and bench/run interrupts
-- wrk (SIGINT: it reports what was done so far) once every thread has.
function C.exhaust()
  if exhausted == 0 then
    exhausted = 1
    if A.donefile then
      local f = io.open(A.donefile, "a")
      if f then f:write(tid, "\n") f:close() end
    end
    wrk.thread:stop()
  end
end

C.json = { ["Content-Type"] = "application/json" }

return C
