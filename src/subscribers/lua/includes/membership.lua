-- The one membership rule (owner: subscribers): a confirmed reader is in the member set of each
-- newsletter they chose, a pending one in its pending set, any other in neither; a confirmed
-- reader who stops being a member of a newsletter counts as an unsubscribe from it.
-- id: subscriber id; mPre/mSuf, pPre/pSuf: member and pending set key around the newsletter id;
-- counters: the newsletters' counters hash, or nil to count nothing; the status and newsletter
-- list (comma-separated) before and after the change.
local function applyMembership(id, mPre, mSuf, pPre, pSuf, counters, oldStatus, oldList, newStatus, newList)
  local old, new, all = {}, {}, {}
  for nl in string.gmatch(oldList or '', '[^,]+') do old[nl] = true; all[nl] = true end
  for nl in string.gmatch(newList or '', '[^,]+') do new[nl] = true; all[nl] = true end
  for nl in pairs(all) do
    local member = newStatus == 'confirmed' and new[nl]
    local pending = newStatus == 'pending' and new[nl]
    if member then redis.call('ZADD', mPre .. nl .. mSuf, id, id) else redis.call('ZREM', mPre .. nl .. mSuf, id) end
    if pending then redis.call('ZADD', pPre .. nl .. pSuf, id, id) else redis.call('ZREM', pPre .. nl .. pSuf, id) end
    if counters and oldStatus == 'confirmed' and old[nl] and not member then
      redis.call('HINCRBY', counters, nl .. ':unsubscribed', 1)
    end
  end
end
