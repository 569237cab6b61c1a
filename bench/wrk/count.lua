-- count.lua: GET one path until each thread has sent its share of count requests (the memory
-- check). Args: path=/x count=N threads=N
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local req, n, quota = nil, 0, 0

function init(args)
  C.init(args)
  req = wrk.format("GET", A.path, nil, nil)
  quota = math.floor(A.count / (A.threads or 1))
end

function request()
  n = n + 1
  if n >= quota then C.exhaust() end
  return req
end
