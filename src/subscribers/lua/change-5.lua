--[[
  One change to one reader, atomically: record fields (status and newsletters among them), the
  newsletter sets they imply (the membership rule, includes/membership.lua), a history entry and a
  consent entry. Every change to a reader's subscriptions goes through here or import-row.
  Fields are the stored ones (subscribers/stored-form.ts); `u` and `f` arrive as epoch ms and are
  kept as ms after `t` (created).
  KEYS[1] subscriber hash
  KEYS[2] the reader's history (string of entries)
  KEYS[3] the reader's consent log (string of entries)
  KEYS[4] the newsletters' counters (hash)
  KEYS[5] the consent texts (hash ref -> text)
  ARGV[1] subscriber id
  ARGV[2] member set key prefix     ARGV[3] member set key suffix
  ARGV[4] pending set key prefix    ARGV[5] pending set key suffix
  ARGV[6] '1' to create the record, '0' to change an existing one
  ARGV[7] fields to set (JSON object of strings), '' for none
  ARGV[8] fields to delete (JSON array), '' for none
  ARGV[9] history entry (encoded), '' for none
  ARGV[10] history entries kept (the newest)
  ARGV[11] consent entry (encoded, its text as a reference), '' for none
  ARGV[12] its consent text's reference ('' when it has none)   ARGV[13] the consent text
  ARGV[14] the consent entry with the text written out (used if the reference names another text)
  ARGV[15] the zone index spec (includes/zones.lua), '' when no newsletter is delivered in readers' zones
  Returns 1, or 0 when the reader to change does not exist.
]]
--- @include "includes/membership"
--- @include "includes/entries"
--- @include "includes/zones"
if ARGV[6] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
historyStart(KEYS[1], KEYS[2])
local before = redis.call('HMGET', KEYS[1], 's', 'l', 'z')
if ARGV[7] ~= '' then
  local fields = cjson.decode(ARGV[7])
  if fields.t then redis.call('HSET', KEYS[1], 't', fields.t) end
  local created = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
  for field, value in pairs(fields) do
    if field == 'u' or field == 'f' then value = string.format('%d', tonumber(value) - created) end
    if field ~= 't' then redis.call('HSET', KEYS[1], field, value) end
  end
end
if ARGV[8] ~= '' then
  for _, field in ipairs(cjson.decode(ARGV[8])) do redis.call('HDEL', KEYS[1], field) end
end
local after = redis.call('HMGET', KEYS[1], 's', 'l', 'z')
applyMembership(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], KEYS[4], before[1], before[2], after[1], after[2])
applyZoneSpec(ARGV[1], ARGV[15], before[1], before[2], before[3], after[1], after[2], after[3])
if ARGV[9] ~= '' then appendEntry(KEYS[2], ARGV[9], tonumber(ARGV[10])) end
if ARGV[11] ~= '' then
  local entry = ARGV[11]
  if ARGV[12] ~= '' and consentTextField(KEYS[5], ARGV[12], ARGV[13], '') == '' then entry = ARGV[14] end
  appendEntry(KEYS[3], entry, 0)
end
return 1
