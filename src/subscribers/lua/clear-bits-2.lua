--[[
  A reader leaves a newsletter's member and pending sets (erasure), without creating either.
  KEYS[1] member set (bitmap)
  KEYS[2] pending set (bitmap)
  ARGV[1] subscriber id
]]
--- @include "includes/membership"
clearBit(KEYS[1], ARGV[1])
clearBit(KEYS[2], ARGV[1])
return 0
