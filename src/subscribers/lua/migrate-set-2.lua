--[[
  `daybreak migrate`: swaps a newsletter's member (or pending) sorted set for the bitmap built
  beside it, once the bitmap holds as many readers as the set (else an older process changed the
  set meanwhile, and the caller builds it again).
  KEYS[1] the sorted set (becomes the bitmap)
  KEYS[2] the bitmap built from it
  ARGV[1] how many readers the bitmap holds
  Returns 'migrated', 'done' (not a sorted set any more) or 'changed'.
]]
if redis.call('TYPE', KEYS[1]).ok ~= 'zset' then
  redis.call('DEL', KEYS[2])
  return 'done'
end
if redis.call('ZCARD', KEYS[1]) ~= tonumber(ARGV[1]) then return 'changed' end
redis.call('DEL', KEYS[1])
if tonumber(ARGV[1]) > 0 then redis.call('RENAME', KEYS[2], KEYS[1]) end
return 'migrated'
