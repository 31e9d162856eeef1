--[[
  Rebuilds one page of a newsletter's zone index (a newsletter that starts delivering in readers'
  zones, or whose own zone changed): each reader is added where the rule (includes/zones.lua) puts
  them. The caller cleared the index first and pages through the newsletter's members.
  KEYS[1] the newsletter's zone registry (hash)
  ARGV[1] subscriber key prefix
  ARGV[2] the zone index spec, naming this newsletter only
  ARGV[3..] subscriber ids
  Returns how many readers of the page have a zone of their own.
]]
--- @include "includes/zones"
local indexed = 0
for i = 3, #ARGV do
  local sub = redis.call('HMGET', ARGV[1] .. ARGV[i], 's', 'l', 'z')
  if sub[1] then
    applyZoneSpec(ARGV[i], ARGV[2], nil, '', nil, sub[1], sub[2], sub[3])
    if sub[3] and sub[3] ~= '' then indexed = indexed + 1 end
  end
end
return indexed
