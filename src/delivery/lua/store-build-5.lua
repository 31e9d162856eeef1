--[[
  Stores a built edition and starts its sending (or holds it for the editors), all at once: the rendered content, the MIME
  template, the edition's fields, its articles marked as sent for the newsletter, the state and the
  history entry. A crash can leave a build either not stored (it is rebuilt) or stored and sending,
  never stored with its articles marked but the edition still building.
  KEYS[1] edition hash
  KEYS[2] content
  KEYS[3] MIME template
  KEYS[4] the newsletter's sent articles (zset by time sent)
  KEYS[5] edition history
  ARGV[1] rendered content (JSON)
  ARGV[2] MIME template (JSON)
  ARGV[3] fields to set (JSON object)
  ARGV[4] history entry (JSON)
  ARGV[5] the state it moves to: 'sending', or 'awaiting-approval' for a newsletter under the
          editors' say (nothing is sent until it is released)
  ARGV[6] now (ms)
  ARGV[7] forget articles sent before this (ms)
  ARGV[8..] article ids
  Returns {'ok', previous} | {'refused', previous} | {'missing'}.
]]
--- @include "includes/sent-articles"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if state ~= 'building' then return {'refused', state} end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2])
for field, value in pairs(cjson.decode(ARGV[3])) do redis.call('HSET', KEYS[1], field, tostring(value)) end
sentArticlesAsZset(KEYS[4], ARGV[6])
for i = 8, #ARGV do redis.call('ZADD', KEYS[4], ARGV[6], ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[7])
redis.call('HSET', KEYS[1], 'state', ARGV[5])
redis.call('RPUSH', KEYS[5], ARGV[4])
return {'ok', state}
