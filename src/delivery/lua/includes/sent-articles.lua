-- A newsletter's sent articles (owner: the edition store): a ZSET, article id -> when it was sent
-- (ms), trimmed to the retention. Installs from before kept a SET without times: it becomes a ZSET
-- on first touch, its members timed `now` (so they are remembered a full retention from then).
local function sentArticlesAsZset(key, now)
  if redis.call('TYPE', key).ok ~= 'set' then return end
  local members = redis.call('SMEMBERS', key)
  redis.call('DEL', key)
  for i = 1, #members, 500 do
    local args = {}
    for j = i, math.min(i + 499, #members) do
      args[#args + 1] = now
      args[#args + 1] = members[j]
    end
    redis.call('ZADD', key, unpack(args))
  end
end
