-- The per-zone member index (owner: membership), for newsletters delivered in each reader's own
-- zone: a confirmed member of such a newsletter whose zone is set and differs from the
-- newsletter's own is in the newsletter's set for that zone; the newsletter's zone registry counts
-- them per zone (its waves). Everyone else is reached by paging the newsletter's members.
-- zonedArg: `<newsletter>=<its zone>;...` for the newsletters delivered in readers' zones.
-- zPre/zMid/zSuf: the zone set key around newsletter and zone; rPre/rSuf: the registry key around
-- the newsletter. The status code (p/c/u), newsletter list and zone (the record's `s`, `l`, `z`,
-- subscribers/stored-form.ts) before and after the change.

local function parseZoned(zonedArg)
  local zoned = {}
  for pair in string.gmatch(zonedArg or '', '[^;]+') do
    local eq = string.find(pair, '=', 1, true)
    if eq then zoned[string.sub(pair, 1, eq - 1)] = string.sub(pair, eq + 1) end
  end
  return zoned
end

-- The zone a reader is indexed under for a newsletter, or nil.
local function indexedZone(zoned, nl, status, list, zone)
  local own = zoned[nl]
  if not own or status ~= 'c' or not zone or zone == '' or zone == own then return nil end
  if not string.find(',' .. (list or '') .. ',', ',' .. nl .. ',', 1, true) then return nil end
  return zone
end

local function applyZones(id, zPre, zMid, zSuf, rPre, rSuf, zonedArg, oldStatus, oldList, oldZone, newStatus, newList, newZone)
  if zonedArg == nil or zonedArg == '' then return end
  local zoned = parseZoned(zonedArg)
  for nl in pairs(zoned) do
    local before = indexedZone(zoned, nl, oldStatus, oldList, oldZone)
    local after = indexedZone(zoned, nl, newStatus, newList, newZone)
    if before ~= after then
      local registry = rPre .. nl .. rSuf
      if before and redis.call('ZREM', zPre .. nl .. zMid .. before .. zSuf, id) == 1 then
        if redis.call('HINCRBY', registry, before, -1) <= 0 then redis.call('HDEL', registry, before) end
      end
      if after and redis.call('ZADD', zPre .. nl .. zMid .. after .. zSuf, id, id) == 1 then
        redis.call('HINCRBY', registry, after, 1)
      end
    end
  end
end

-- The same, from the spec the callers pass as one argument (JSON {keys = {zPre, zMid, zSuf, rPre,
-- rSuf}, zoned = '<nl>=<zone>;...'}), '' when no newsletter is delivered in readers' zones.
local function applyZoneSpec(id, spec, oldStatus, oldList, oldZone, newStatus, newList, newZone)
  if spec == nil or spec == '' then return end
  local s = cjson.decode(spec)
  applyZones(id, s.keys[1], s.keys[2], s.keys[3], s.keys[4], s.keys[5], s.zoned, oldStatus, oldList, oldZone, newStatus, newList, newZone)
end
