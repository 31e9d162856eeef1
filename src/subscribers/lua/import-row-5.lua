--[[
  One imported row, atomically: refuse suppressed and unsubscribed addresses, create a new
  subscriber, or add newsletters to an existing one; "unchanged" when there is nothing to add, so a
  second run of the same file writes nothing. Newsletter sets follow the membership rule. The
  record, history and consent entries are written in their stored forms (subscribers/stored-form.ts).
  KEYS[1] email index (hash address -> id)
  KEYS[2] subscriber id sequence
  KEYS[3] suppressions hash
  KEYS[4] the newsletters' counters (hash)
  KEYS[5] the consent texts (hash ref -> text)
  ARGV[1] subscriber key prefix
  ARGV[2] member set key prefix     ARGV[3] member set key suffix
  ARGV[4] pending set key prefix    ARGV[5] pending set key suffix
  ARGV[6] email    ARGV[7] email hash    ARGV[8] name ('' for none)    ARGV[9] confirmed ('1'|'0')
  ARGV[10] now (ms)    ARGV[11] now (entry time code)    ARGV[12] source    ARGV[13] form (cleaned)
  ARGV[14] consent text reference    ARGV[15] consent text    ARGV[16] consent text written out
  ARGV[17] source as a JSON string    ARGV[18] history entries kept (a new reader's first entry is implicit: includes/entries.lua)
  ARGV[19] time zone ('' for none: the newsletter's)    ARGV[20] the zone index spec (includes/zones.lua)
  ARGV[21..] newsletter ids
  Returns {'created', id} | {'updated', id} | {'unchanged', id} | {'suppressed'} | {'unsubscribed', id, updatedAt}.
]]
--- @include "includes/membership"
--- @include "includes/entries"
--- @include "includes/zones"
local byEmail, seq, supp, counters, texts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local subPrefix, mPre, mSuf, pPre, pSuf = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local email, hash, name, confirmed, now, nowCode = ARGV[6], ARGV[7], ARGV[8], ARGV[9] == '1', ARGV[10], ARGV[11]
local source, form, textRef, text, textLiteral, sourceJson, historyCap = ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16], ARGV[17], tonumber(ARGV[18])
local zone, zoneSpec = ARGV[19], ARGV[20]
local wanted = {}
for i = 21, #ARGV do wanted[#wanted + 1] = ARGV[i] end
if redis.call('HEXISTS', supp, hash) == 1 then return {'suppressed'} end

local function history(key, detail)
  appendEntry(key .. ':history', nowCode .. '\31I\31' .. detail, historyCap)
end
local function consent(key, newsletters)
  local field = consentTextField(texts, textRef, text, textLiteral)
  appendEntry(key .. ':consent', nowCode .. '\31g\31' .. table.concat(newsletters, ',') .. '\31' .. form .. '\31' .. field, 0)
end

local id = redis.call('HGET', byEmail, email)
if not id then
  id = tostring(redis.call('INCR', seq))
  redis.call('HSET', byEmail, email, id)
  local key = subPrefix .. id
  local list = table.concat(wanted, ',')
  -- `i`: the "imported" history entry follows from the record until it changes (includes/entries.lua).
  redis.call('HSET', key, 'e', email, 'h', hash, 's', confirmed and 'c' or 'p', 'l', list, 't', now, 'u', '0', 'o', source, 'i', 'I')
  if name ~= '' then redis.call('HSET', key, 'n', name) end
  if zone ~= '' then redis.call('HSET', key, 'z', zone) end
  if confirmed then redis.call('HSET', key, 'f', '0') end
  applyMembership(id, mPre, mSuf, pPre, pSuf, counters, nil, '', confirmed and 'c' or 'p', list)
  applyZoneSpec(id, zoneSpec, nil, '', nil, confirmed and 'c' or 'p', list, zone)
  if confirmed then consent(key, wanted) end
  return {'created', id}
end
local key = subPrefix .. id
local cur = redis.call('HMGET', key, 's', 'l', 'n', 'u', 't', 'z')
if not cur[1] then return redis.error_reply('subscriber ' .. id .. ' is in the email index but has no record') end
local created = tonumber(cur[5] or '0')
if cur[1] == 'u' then return {'unsubscribed', id, string.format('%d', created + tonumber(cur[4] or '0'))} end
local list, have, added = {}, {}, {}
for nl in string.gmatch(cur[2] or '', '[^,]+') do list[#list + 1] = nl; have[nl] = true end
for _, nl in ipairs(wanted) do
  if not have[nl] then list[#list + 1] = nl; have[nl] = true; added[#added + 1] = nl end
end
local status = cur[1]
if confirmed then status = 'c' end
local setName = name ~= '' and (not cur[3] or cur[3] == '')
-- Like the name, a zone from the file fills a gap; it never overrides one the reader chose.
local setZone = zone ~= '' and (not cur[6] or cur[6] == '')
if #added == 0 and status == cur[1] and not setName and not setZone then return {'unchanged', id} end
historyStart(key, key .. ':history')
local newList = table.concat(list, ',')
local since = string.format('%d', tonumber(now) - created)
redis.call('HSET', key, 'l', newList, 's', status, 'u', since)
if setName then redis.call('HSET', key, 'n', name) end
if setZone then redis.call('HSET', key, 'z', zone) end
if status == 'c' and cur[1] ~= 'c' then redis.call('HSET', key, 'f', since) end
applyMembership(id, mPre, mSuf, pPre, pSuf, counters, cur[1], cur[2], status, newList)
applyZoneSpec(id, zoneSpec, cur[1], cur[2], cur[6], status, newList, setZone and zone or cur[6])
history(key, '{"status":"' .. (status == 'c' and 'confirmed' or 'pending') .. '"' .. (#added > 0 and (',"added":' .. jsonList(added)) or '') .. ',"source":' .. sourceJson .. '}')
if confirmed then
  local given = (cur[1] == 'c') and added or list
  if #given > 0 then consent(key, given) end
end
return {'updated', id}
