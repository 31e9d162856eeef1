--[[
  Creates an edition unless it exists, with its history's first entry: two schedulers (or a
  scheduler and ops) end with one edition.
  KEYS[1] edition hash
  KEYS[2] the newsletter's editions (zset by slot)
  KEYS[3] all editions (zset by slot)
  KEYS[4] edition history
  ARGV[1] slot (ms)
  ARGV[2] edition id
  ARGV[3] history entry (JSON)
  ARGV[4..] field, value pairs
  Returns 1 when created, 0 when it existed.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[4], ARGV[3])
return 1
