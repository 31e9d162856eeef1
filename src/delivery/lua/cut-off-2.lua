--[[
  Marks an edition whose send window closed while the relay was unreachable: from then on every
  claim of it settles the reader as failed with the reason (nobody is mailed after the window),
  until ops resend the failed readers. Once per edition, with its history entry.
  KEYS[1] edition hash
  KEYS[2] edition history
  ARGV[1] now (ms)
  ARGV[2] history entry (JSON)
  ARGV[3] reason
  Returns 1 when this call marked it.
]]
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'cutoffAt') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'cutoffAt', ARGV[1], 'reason', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
