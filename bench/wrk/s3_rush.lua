-- s3_rush.lua: S3 seat rush: active users try random seats of one schedule; once its seats are
-- held, everyone loses with 409. Args: tokens=FILE offset=N count=N threads=N schedule=ID
-- seats=N
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local reqs = {}

function init(args)
  C.init(args)
  -- Every (token, seat) pair, built once; request() picks one at random.
  for _, t in ipairs(C.lines(A.tokens, A.offset, A.count, 2)) do
    local h = { ["Content-Type"] = "application/json", Authorization = "Bearer " .. t }
    for seat = 1, A.seats or 50 do
      reqs[#reqs + 1] = wrk.format("POST", "/api/v1/reservations", h,
        '{"scheduleId":' .. A.schedule .. ',"seatNo":' .. seat .. '}')
    end
  end
end

function request()
  return reqs[math.random(1, #reqs)]
end
