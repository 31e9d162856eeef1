--[[
  Opens the transport circuit breaker (most sends fail to reach the relay), or, when it is open
  already, notes the latest error: every worker of the install reads this one hash.
  KEYS[1] breaker hash
  ARGV[1] now (ms)
  ARGV[2] first probe at (ms)
  ARGV[3] the error (one line)
  ARGV[4] who tripped it (host:pid)
  Returns 1 when this call opened it.
]]
local b = KEYS[1]
if redis.call('HGET', b, 'state') == 'open' then
  redis.call('HSET', b, 'lastError', ARGV[3])
  return 0
end
redis.call('HSET', b, 'state', 'open', 'since', ARGV[1], 'nextProbeAt', ARGV[2], 'lastError', ARGV[3], 'by', ARGV[4], 'probes', '0')
redis.call('HDEL', b, 'closedAt')
return 1
