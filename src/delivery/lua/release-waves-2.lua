--[[
  Ops force an edition's held waves out (`run-edition --force`): each held wave waits again,
  marked forced (the staleness guard lets it go), and the edition's fan-out is no longer done.
  KEYS[1] edition hash
  KEYS[2] the edition's waves (hash)
  Returns the zones released.
]]
local flat = redis.call('HGETALL', KEYS[2])
local released = {}
for i = 1, #flat, 2 do
  local field = flat[i]
  if string.sub(field, -6) == '|state' and flat[i + 1] == 'held' then
    local zone = string.sub(field, 1, -7)
    redis.call('HSET', KEYS[2], field, 'waiting', zone .. '|forced', '1')
    redis.call('HDEL', KEYS[2], zone .. '|reason')
    released[#released + 1] = zone
  end
end
if #released > 0 then redis.call('HSET', KEYS[1], 'fanoutDone', '0') end
return released
