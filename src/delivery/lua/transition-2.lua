--[[
  Moves an edition from one of the allowed states to another, writing its fields and its history
  entry in the same call: a crash can never leave an edition half-moved.
  KEYS[1] edition hash
  KEYS[2] edition history
  ARGV[1] the new state
  ARGV[2] history entry (a JSON object; `from`, the state it left, is added), '' for none
  ARGV[3] fields to set (JSON object), '' for none
  ARGV[4] fields to delete (JSON array), '' for none
  ARGV[5..] the states it may move from
  Returns {'ok', previous} | {'refused', previous} | {'missing'}.
]]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
for i = 5, #ARGV do
  if ARGV[i] == state then
    redis.call('HSET', KEYS[1], 'state', ARGV[1])
    if ARGV[3] ~= '' then
      for field, value in pairs(cjson.decode(ARGV[3])) do redis.call('HSET', KEYS[1], field, tostring(value)) end
    end
    if ARGV[4] ~= '' then
      for _, field in ipairs(cjson.decode(ARGV[4])) do redis.call('HDEL', KEYS[1], field) end
    end
    -- The history entry says which state it left (a JSON object: `from` goes in before its last brace).
    if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], string.sub(ARGV[2], 1, -2) .. ',"from":"' .. state .. '"}') end
    return {'ok', state}
  end
end
return {'refused', state}
