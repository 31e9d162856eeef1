--[[
  Which of these articles the newsletter has sent, and (with a trim time) forgets those sent before
  it. Reads a SET from before article times were kept as well as the ZSET; a trim makes it a ZSET.
  KEYS[1] the newsletter's sent articles
  ARGV[1] now (ms)
  ARGV[2] forget articles sent before this (ms), '' to only read
  ARGV[3..] article ids to check
  Returns 1 or 0 per article id.
]]
--- @include "includes/sent-articles"
if ARGV[2] ~= '' then
  sentArticlesAsZset(KEYS[1], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
end
local legacy = redis.call('TYPE', KEYS[1]).ok == 'set'
local out = {}
for i = 3, #ARGV do
  if legacy then out[#out + 1] = redis.call('SISMEMBER', KEYS[1], ARGV[i])
  else out[#out + 1] = redis.call('ZSCORE', KEYS[1], ARGV[i]) and 1 or 0 end
end
return out
