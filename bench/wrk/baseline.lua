-- baseline.lua: B0-B3 against bench/baseline.c at /bench/. Args: b=0|1|2|3 [rows=N] (B2 reads
-- a random one of rows 1..N of bench_rows).
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local fixed, reqs = nil, {}

function init(args)
  C.init(args)
  if A.b == 3 then
    fixed = wrk.format("POST", "/bench/b3", nil, nil)
  elseif A.b ~= 2 then
    fixed = wrk.format("GET", "/bench/b" .. A.b, nil, nil)
  else
    for id = 1, A.rows or 10000 do reqs[id] = wrk.format("GET", "/bench/b2/" .. id, nil, nil) end
  end
end

-- Requests are built in init(), so that the load generator spends as little CPU per request
-- in every scenario (it shares the machine's cores with the stack).
function request()
  return fixed or reqs[math.random(1, #reqs)]
end
