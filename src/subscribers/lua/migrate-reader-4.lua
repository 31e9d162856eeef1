--[[
  `daybreak migrate`: one reader from the form of an earlier Daybreak (hash of long fields, history
  and consent as lists of JSON) to the stored form (subscribers/stored-form.ts), atomically, and
  only if the reader is still exactly as it was read (an older process still writing is not lost:
  the reader is read and converted again on the next pass).
  KEYS[1] subscriber hash
  KEYS[2] the reader's history
  KEYS[3] the reader's consent log
  KEYS[4] the consent texts (hash ref -> text)
  ARGV[1] the legacy `updatedAt` read    ARGV[2] history entries read    ARGV[3] consent entries read
  ARGV[4] new fields (JSON object)       ARGV[5] history (encoded, '' for none)    ARGV[6] consent (encoded, '' for none)
  ARGV[7..] consent texts: reference, text, ...
  Returns 'migrated', 'done' (already in the stored form), 'missing' or 'changed'.
]]
if redis.call('HEXISTS', KEYS[1], 'email') == 0 then
  return redis.call('EXISTS', KEYS[1]) == 1 and 'done' or 'missing'
end
local function listLength(key)
  local t = redis.call('TYPE', key).ok
  if t == 'none' then return 0 end
  if t ~= 'list' then return -1 end
  return redis.call('LLEN', key)
end
if (redis.call('HGET', KEYS[1], 'updatedAt') or '') ~= ARGV[1] or listLength(KEYS[2]) ~= tonumber(ARGV[2]) or listLength(KEYS[3]) ~= tonumber(ARGV[3]) then
  return 'changed'
end
for i = 7, #ARGV, 2 do redis.call('HSETNX', KEYS[4], ARGV[i], ARGV[i + 1]) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
for field, value in pairs(cjson.decode(ARGV[4])) do redis.call('HSET', KEYS[1], field, value) end
if ARGV[5] ~= '' then redis.call('SET', KEYS[2], ARGV[5]) end
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], ARGV[6]) end
return 'migrated'
