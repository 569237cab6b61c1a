-- bare.lua: the bare rows against bench/bare.c at /bare/. Args: k=hello|get|select [rows=N]
-- (select reads a random one of rows 1..N of bench_rows, as B2 does).
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local fixed, reqs = nil, {}

function init(args)
  C.init(args)
  if A.k ~= "select" then
    fixed = wrk.format("GET", "/bare/" .. A.k, nil, nil)
  else
    for id = 1, A.rows or 10000 do reqs[id] = wrk.format("GET", "/bare/select/" .. id, nil, nil) end
  end
end

function request()
  return fixed or reqs[math.random(1, #reqs)]
end
