--[[
  One imported row, atomically: refuse suppressed and unsubscribed addresses, create a new
  subscriber, or add newsletters to an existing one; "unchanged" when there is nothing to add, so a
  second run of the same file writes nothing. Newsletter sets follow the membership rule.
  KEYS[1] email index (hash address -> id)
  KEYS[2] subscriber id sequence
  KEYS[3] suppressions hash
  KEYS[4] all subscribers (zset)
  KEYS[5] the newsletters' counters (hash)
  ARGV[1] subscriber key prefix
  ARGV[2] member set key prefix     ARGV[3] member set key suffix
  ARGV[4] pending set key prefix    ARGV[5] pending set key suffix
  ARGV[6] email    ARGV[7] email hash    ARGV[8] name ('' for none)    ARGV[9] confirmed ('1'|'0')
  ARGV[10] now (ms)    ARGV[11] now (ISO)    ARGV[12] source    ARGV[13] form    ARGV[14] consent text
  ARGV[15] time zone ('' for none: the newsletter's)    ARGV[16] the zone index spec (includes/zones.lua)
  ARGV[17..] newsletter ids
  Returns {'created', id} | {'updated', id} | {'unchanged', id} | {'suppressed'} | {'unsubscribed', id, updatedAt}.
]]
--- @include "includes/membership"
--- @include "includes/zones"
local byEmail, seq, supp, all, counters = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local subPrefix, mPre, mSuf, pPre, pSuf = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local email, hash, name, confirmed, now, nowIso = ARGV[6], ARGV[7], ARGV[8], ARGV[9] == '1', ARGV[10], ARGV[11]
local source, form, consentText, zone, zoneSpec = ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16]
local wanted = {}
for i = 17, #ARGV do wanted[#wanted + 1] = ARGV[i] end
if redis.call('HEXISTS', supp, hash) == 1 then return {'suppressed'} end
local id = redis.call('HGET', byEmail, email)
if not id then
  id = tostring(redis.call('INCR', seq))
  redis.call('HSET', byEmail, email, id)
  local key = subPrefix .. id
  local status = confirmed and 'confirmed' or 'pending'
  local list = table.concat(wanted, ',')
  redis.call('HSET', key, 'id', id, 'email', email, 'emailHash', hash, 'status', status, 'newsletters', list, 'createdAt', now, 'updatedAt', now, 'source', source)
  if name ~= '' then redis.call('HSET', key, 'name', name) end
  if zone ~= '' then redis.call('HSET', key, 'timezone', zone) end
  if confirmed then redis.call('HSET', key, 'confirmedAt', now) end
  redis.call('ZADD', all, id, id)
  applyMembership(id, mPre, mSuf, pPre, pSuf, counters, nil, '', status, list)
  applyZoneSpec(id, zoneSpec, nil, '', nil, status, list, zone)
  redis.call('RPUSH', key .. ':history', cjson.encode({at = nowIso, event = 'imported', detail = {status = status, newsletters = wanted, source = source}}))
  if confirmed then
    redis.call('RPUSH', key .. ':consent', cjson.encode({at = nowIso, action = 'given', newsletters = wanted, form = form, consentText = consentText}))
  end
  return {'created', id}
end
local key = subPrefix .. id
local cur = redis.call('HMGET', key, 'status', 'newsletters', 'name', 'updatedAt', 'timezone')
if not cur[1] then return redis.error_reply('subscriber ' .. id .. ' is in the email index but has no record') end
if cur[1] == 'unsubscribed' then return {'unsubscribed', id, cur[4] or ''} end
local list, have, added = {}, {}, {}
for nl in string.gmatch(cur[2] or '', '[^,]+') do list[#list + 1] = nl; have[nl] = true end
for _, nl in ipairs(wanted) do
  if not have[nl] then list[#list + 1] = nl; have[nl] = true; added[#added + 1] = nl end
end
local status = cur[1]
if confirmed then status = 'confirmed' end
local setName = name ~= '' and (not cur[3] or cur[3] == '')
-- Like the name, a zone from the file fills a gap; it never overrides one the reader chose.
local setZone = zone ~= '' and (not cur[5] or cur[5] == '')
if #added == 0 and status == cur[1] and not setName and not setZone then return {'unchanged', id} end
local newList = table.concat(list, ',')
redis.call('HSET', key, 'newsletters', newList, 'status', status, 'updatedAt', now)
if setName then redis.call('HSET', key, 'name', name) end
if setZone then redis.call('HSET', key, 'timezone', zone) end
if status == 'confirmed' and cur[1] ~= 'confirmed' then redis.call('HSET', key, 'confirmedAt', now) end
applyMembership(id, mPre, mSuf, pPre, pSuf, counters, cur[1], cur[2], status, newList)
applyZoneSpec(id, zoneSpec, cur[1], cur[2], cur[5], status, newList, setZone and zone or cur[5])
redis.call('RPUSH', key .. ':history', cjson.encode({at = nowIso, event = 'imported', detail = {status = status, added = (#added > 0) and added or nil, source = source}}))
if confirmed then
  local given = (cur[1] == 'confirmed') and added or list
  if #given > 0 then
    redis.call('RPUSH', key .. ':consent', cjson.encode({at = nowIso, action = 'given', newsletters = given, form = form, consentText = consentText}))
  end
end
return {'updated', id}
