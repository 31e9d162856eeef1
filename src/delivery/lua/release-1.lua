--[[
  Gives a claim back (a paused edition, a capped day): the reader is queued again, unless another
  owner holds the claim by now.
  KEYS[1] ledger
  ARGV[1] subscriber id
  ARGV[2] owner (job id)
  ARGV[3] now (ms)
  Returns 1 when released.
]]
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev and string.sub(prev, 1, 2 + #ARGV[2]) == 'c|' .. ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], 'q|' .. ARGV[3])
  return 1
end
return 0
