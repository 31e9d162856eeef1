--[[
  Marks an edition's ledger compacted, with its history entry, once: a second run (or a second
  scheduler racing this one) finds it marked and writes nothing.
  KEYS[1] edition hash
  KEYS[2] edition history
  ARGV[1] now (ms)
  ARGV[2] history entry (JSON)
  Returns 1 when this call marked it.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'compactedAt', ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
