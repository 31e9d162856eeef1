--[[
  Adds an entry to a reader's history (a bounce, a complaint, a sign-up asked again), keeping the
  newest entries only; nothing when the reader no longer exists (erased meanwhile).
  KEYS[1] subscriber hash
  KEYS[2] the reader's history (string of entries)
  ARGV[1] history entry (encoded)
  ARGV[2] history entries kept
  Returns 1, or 0 when the reader does not exist.
]]
--- @include "includes/entries"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
historyStart(KEYS[1], KEYS[2])
appendEntry(KEYS[2], ARGV[1], tonumber(ARGV[2]))
return 1
