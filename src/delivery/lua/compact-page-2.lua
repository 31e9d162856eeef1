--[[
  One page of a ledger's compaction: each reader given whose entry is still `sent` becomes a bit
  in the sent bitmap and leaves the hash, in one atomic step (see includes/ledger.lua). Safe to
  repeat and to interrupt between pages: an entry is in the hash or in the bitmap, never neither.
  KEYS[1] ledger (hash)
  KEYS[2] the readers sent (bitmap)
  ARGV[1..] subscriber ids (those the page saw as sent; each is checked again here)
  Returns how many entries moved.
]]
local moved = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and string.sub(v, 1, 1) == 's' and tonumber(ARGV[i]) then
    redis.call('SETBIT', KEYS[2], ARGV[i], 1)
    redis.call('HDEL', KEYS[1], ARGV[i])
    moved = moved + 1
  end
end
return moved
