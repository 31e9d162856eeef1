-- Per-wave counts of an edition delivered in readers' zones (owner: the edition store): a reader
-- queued or settled by a wave's send counts in that wave (`<zone>|q`, `|s`, `|f`, `|k` in the
-- edition's waves hash). Callers pass '' as the wave for sends outside waves (resends).

local function countWave(waves, wave, kind)
  if wave ~= nil and wave ~= '' then redis.call('HINCRBY', waves, wave .. '|' .. kind, 1) end
end

-- True while some wave of the edition has not gone (or been held) yet.
local function wavesWaiting(waves)
  local flat = redis.call('HGETALL', waves)
  for i = 1, #flat, 2 do
    local field = flat[i]
    if string.sub(field, -6) == '|state' and flat[i + 1] == 'waiting' then return true end
  end
  return false
end
