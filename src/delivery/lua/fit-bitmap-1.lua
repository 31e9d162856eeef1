--[[
  Writes a bitmap again at its exact length: SETBIT grows a string with room to spare (up to
  twice its size), which a compacted ledger's sent bitmap, written once, no longer needs.
  Harmless to repeat.
  KEYS[1] the bitmap
]]
local bits = redis.call('GET', KEYS[1])
if bits then redis.call('SET', KEYS[1], bits) end
return 0
