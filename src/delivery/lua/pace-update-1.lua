--[[
  Writes a provider group's new pace state if nobody changed it since the caller read it (its
  version), so two workers reacting to the same deferral halve the pace once, not twice.
  KEYS[1] the group's pace state (hash)
  ARGV[1] the version the change was computed from
  ARGV[2] fields to set (JSON object of strings)
  ARGV[3] fields to delete (JSON array)
  Returns 1 when written, 0 when the state had moved on (the caller reads it again).
]]
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= ARGV[1] then return 0 end
for field, value in pairs(cjson.decode(ARGV[2])) do redis.call('HSET', KEYS[1], field, value) end
for _, field in ipairs(cjson.decode(ARGV[3])) do redis.call('HDEL', KEYS[1], field) end
redis.call('HSET', KEYS[1], 'version', tostring(tonumber(version) + 1))
return 1
