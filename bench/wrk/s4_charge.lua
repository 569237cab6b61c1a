-- s4_charge.lua: S4 charges: POST /api/v1/users/{id}/balance/charge {"amount": N} for random
-- users of a slice. Args: users=FILE offset=N count=N threads=N amount=N
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local reqs = {}

function init(args)
  C.init(args)
  local body = '{"amount":' .. (A.amount or 1000) .. '}'
  for _, u in ipairs(C.lines(A.users, A.offset, A.count, 1)) do
    reqs[#reqs + 1] = wrk.format("POST", "/api/v1/users/" .. u .. "/balance/charge", C.json, body)
  end
end

function request()
  return reqs[math.random(1, #reqs)]
end
