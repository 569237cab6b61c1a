-- s2_join.lua: S2 queue join storm: every request joins a user that never joined before.
-- Args: users=FILE (one userId a line) offset=N count=N threads=N; the threads share
-- lines [offset, offset + count) and stop when theirs run out (exhausted in the result).
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local reqs, k = {}, 0

function init(args)
  C.init(args)
  for i, id in ipairs(C.lines(A.users, A.offset, A.count, 1)) do
    reqs[i] = wrk.format("POST", "/api/v1/queue/tokens", C.json, '{"userId":"' .. id .. '"}')
  end
end

function request()
  k = k + 1
  if k > #reqs then
    C.exhaust()
    k = #reqs -- a repeat join: 200 with the same token, and the thread stops
  end
  return reqs[k]
end
