--[[
  Stores an edition re-rendered after an editor's change (a story dropped or pinned) while it
  awaits approval: content, MIME template, the plan it was rendered from, the article fields, the
  render count and the history entry together. Refused unless the edition still awaits approval
  and nobody changed it since the caller read it (its `rev`), so two editors' changes never
  overwrite each other. A dropped story is no longer marked as sent by the newsletter.
  KEYS[1] edition hash
  KEYS[2] content
  KEYS[3] MIME template
  KEYS[4] the plan the content was rendered from (JSON)
  KEYS[5] the newsletter's sent articles (zset by time sent; store-build-5.lua made it one)
  KEYS[6] edition history
  ARGV[1] the rev the change was made on
  ARGV[2] rendered content (JSON)
  ARGV[3] MIME template (JSON)
  ARGV[4] the plan (JSON)
  ARGV[5] fields to set (JSON object)
  ARGV[6] history entry (JSON)
  ARGV[7..] article ids no longer in the edition
  Returns {'ok', rev} | {'refused', state} | {'stale', rev} | {'missing'}.
]]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if state ~= 'awaiting-approval' then return {'refused', state} end
local rev = redis.call('HGET', KEYS[1], 'rev') or '0'
if rev ~= ARGV[1] then return {'stale', rev} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
redis.call('SET', KEYS[4], ARGV[4])
for field, value in pairs(cjson.decode(ARGV[5])) do redis.call('HSET', KEYS[1], field, tostring(value)) end
for i = 7, #ARGV do redis.call('ZREM', KEYS[5], ARGV[i]) end
redis.call('HINCRBY', KEYS[1], 'renders', 1)
local next = redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('RPUSH', KEYS[6], ARGV[6])
return {'ok', tostring(next)}
