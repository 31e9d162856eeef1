--[[
  One change to one reader, atomically: record fields (status and newsletters among them), the
  newsletter sets they imply (the membership rule, includes/membership.lua), a history entry and a
  consent entry. Every change to a reader's subscriptions goes through here or import-row.
  KEYS[1] subscriber hash
  KEYS[2] the reader's history (list)
  KEYS[3] the reader's consent log (list)
  KEYS[4] the newsletters' counters (hash)
  ARGV[1] subscriber id
  ARGV[2] member set key prefix     ARGV[3] member set key suffix
  ARGV[4] pending set key prefix    ARGV[5] pending set key suffix
  ARGV[6] '1' to create the record, '0' to change an existing one
  ARGV[7] fields to set (JSON object of strings), '' for none
  ARGV[8] fields to delete (JSON array), '' for none
  ARGV[9] history entry (JSON), '' for none
  ARGV[10] consent entry (JSON), '' for none
  ARGV[11] the zone index spec (includes/zones.lua), '' when no newsletter is delivered in readers' zones
  Returns 1, or 0 when the reader to change does not exist.
]]
--- @include "includes/membership"
--- @include "includes/zones"
if ARGV[6] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local before = redis.call('HMGET', KEYS[1], 'status', 'newsletters', 'timezone')
if ARGV[7] ~= '' then
  for field, value in pairs(cjson.decode(ARGV[7])) do redis.call('HSET', KEYS[1], field, value) end
end
if ARGV[8] ~= '' then
  for _, field in ipairs(cjson.decode(ARGV[8])) do redis.call('HDEL', KEYS[1], field) end
end
local after = redis.call('HMGET', KEYS[1], 'status', 'newsletters', 'timezone')
applyMembership(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], KEYS[4], before[1], before[2], after[1], after[2])
applyZoneSpec(ARGV[1], ARGV[11], before[1], before[2], before[3], after[1], after[2], after[3])
if ARGV[9] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[9]) end
if ARGV[10] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[10]) end
return 1
