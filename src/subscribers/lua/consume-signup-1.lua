--[[
  Consumes a pending sign-up only if the nonce matches: a confirm link works once.
  KEYS[1] the pending sign-up (JSON string)
  ARGV[1] the nonce from the link
  Returns the sign-up, or false.
]]
local v = redis.call('GET', KEYS[1])
if not v then return false end
local ok, rec = pcall(cjson.decode, v)
if ok and type(rec) == 'table' and rec.nonce == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return v
end
return false
