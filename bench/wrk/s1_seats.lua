-- s1_seats.lua: S1 seat-map reads. GET /api/v1/schedules/{id}/seats with active tokens.
-- Args: tokens=FILE ("userId token" lines) schedules=FIRST-LAST threads=N
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local reqs, k = {}, 0

function init(args)
  C.init(args)
  local first, last = tostring(A.schedules):match("^(%d+)-(%d+)$")
  first, last = tonumber(first), tonumber(last)
  local tokens = C.lines(A.tokens, 0, nil, 2)
  -- Pre-built requests: token i reads schedule first + i mod (last - first + 1).
  for i, t in ipairs(tokens) do
    local sid = first + i % (last - first + 1)
    reqs[#reqs + 1] = wrk.format("GET", "/api/v1/schedules/" .. sid .. "/seats",
                                 { Authorization = "Bearer " .. t }, nil)
  end
end

function request()
  k = k % #reqs + 1
  return reqs[k]
end
