--[[
  Counts a reader once per edition, whatever number of bounce events name them: the flags already
  seen are kept per reader (b bounced, h hard, x blocked or sender fault, c complaint, u unsubscribed
  through a link in this edition).
  KEYS[1] edition hash
  KEYS[2] the edition's bounced readers (hash reader -> flags)
  ARGV[1] subscriber id
  ARGV[2] flags
  Returns the flags newly added ('' when the edition does not exist, or its per-reader data was
  dropped after the retention: its counts are final then).
]]
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'readersDroppedAt') == 1 then return '' end
local fields = { b = 'bounced', h = 'bouncedHard', x = 'blocked', c = 'complaints', u = 'unsubscribes' }
local cur = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local added = ''
for i = 1, #ARGV[2] do
  local f = string.sub(ARGV[2], i, i)
  if fields[f] and not string.find(cur, f, 1, true) then
    cur = cur .. f
    added = added .. f
    redis.call('HINCRBY', KEYS[1], fields[f], 1)
  end
end
if added ~= '' then redis.call('HSET', KEYS[2], ARGV[1], cur) end
return added
