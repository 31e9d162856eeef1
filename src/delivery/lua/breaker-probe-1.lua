--[[
  Takes the next probe of an open breaker, so one worker of the whole install probes the relay per
  interval: the probe's time moves on before anyone probes.
  KEYS[1] breaker hash
  ARGV[1] now (ms)
  ARGV[2] the probe after this one (ms)
  Returns 'closed' | 'wait' | 'probe'.
]]
local b = KEYS[1]
if redis.call('HGET', b, 'state') ~= 'open' then return 'closed' end
if tonumber(redis.call('HGET', b, 'nextProbeAt') or '0') > tonumber(ARGV[1]) then return 'wait' end
redis.call('HSET', b, 'nextProbeAt', ARGV[2])
redis.call('HINCRBY', b, 'probes', 1)
return 'probe'
