--[[
  Closes the transport circuit breaker: a probe reached the relay. The outage is kept (since,
  closedAt, last error) for status until the next one.
  KEYS[1] breaker hash
  ARGV[1] now (ms)
  Returns 1 when this call closed it.
]]
local b = KEYS[1]
if redis.call('HGET', b, 'state') ~= 'open' then return 0 end
redis.call('HSET', b, 'state', 'closed', 'closedAt', ARGV[1])
redis.call('HDEL', b, 'nextProbeAt')
return 1
