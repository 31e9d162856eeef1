-- The one membership rule (owner: subscribers): a confirmed reader is in the member set of each
-- newsletter they chose, a pending one in its pending set, any other in neither; a confirmed
-- reader who stops being a member of a newsletter counts as an unsubscribe from it.
-- Member and pending sets are BITMAPS, bit = subscriber id (ids are sequential): a set of a
-- million readers is 125 KB, and paging it in id order is stable.
-- id: subscriber id; mPre/mSuf, pPre/pSuf: member and pending set key around the newsletter id;
-- counters: the newsletters' counters hash, or nil to count nothing; the status code (p/c/u) and
-- newsletter list (comma-separated) before and after the change.
-- Clears a reader's bit without creating the bitmap (SETBIT 0 on a missing key would write one).
local function clearBit(key, id)
  if redis.call('GETBIT', key, id) == 1 then redis.call('SETBIT', key, id, 0) end
end

local function applyMembership(id, mPre, mSuf, pPre, pSuf, counters, oldStatus, oldList, newStatus, newList)
  local old, new, all = {}, {}, {}
  for nl in string.gmatch(oldList or '', '[^,]+') do old[nl] = true; all[nl] = true end
  for nl in string.gmatch(newList or '', '[^,]+') do new[nl] = true; all[nl] = true end
  for nl in pairs(all) do
    local member = newStatus == 'c' and new[nl]
    local pending = newStatus == 'p' and new[nl]
    if member then redis.call('SETBIT', mPre .. nl .. mSuf, id, 1) else clearBit(mPre .. nl .. mSuf, id) end
    if pending then redis.call('SETBIT', pPre .. nl .. pSuf, id, 1) else clearBit(pPre .. nl .. pSuf, id) end
    if counters and oldStatus == 'c' and old[nl] and not member then
      redis.call('HINCRBY', counters, nl .. ':unsubscribed', 1)
    end
  end
end
