--[[
  Turns still-failed ledger entries back into queued ones (resend --failed), moving the failed
  count with them: run twice, the second run finds nothing failed.
  KEYS[1] edition hash
  KEYS[2] ledger
  ARGV[1] now (ms)
  ARGV[2..] subscriber ids
  Returns the ids requeued.
]]
local out = {}
for i = 2, #ARGV do
  local prev = redis.call('HGET', KEYS[2], ARGV[i])
  if prev and string.sub(prev, 1, 1) == 'f' then
    redis.call('HSET', KEYS[2], ARGV[i], 'q|' .. ARGV[1])
    redis.call('HINCRBY', KEYS[1], 'failed', -1)
    out[#out + 1] = ARGV[i]
  end
end
return out
