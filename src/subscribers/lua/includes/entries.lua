-- A reader's history and consent log (owners: records, consent) are each one string of entries
-- separated by RS (\30), fields by US (\31): one key with one small value, instead of a list of
-- JSON (see subscribers/stored-form.ts, which reads and writes the same forms).

-- Appends an entry; with a cap (> 0), keeps only the newest `cap` entries.
local function appendEntry(key, entry, cap)
  local cur = redis.call('GET', key)
  local value = cur and (cur .. '\30' .. entry) or entry
  if cap > 0 then
    local count, pos = 1, 1
    while true do
      local found = string.find(value, '\30', pos, true)
      if not found then break end
      count = count + 1
      pos = found + 1
    end
    if count > cap then
      local drop, at = count - cap, 0
      for _ = 1, drop do at = string.find(value, '\30', at + 1, true) end
      value = string.sub(value, at + 1)
    end
  end
  -- SET, not APPEND: the value is stored at its size, with no room reserved for growth.
  redis.call('SET', key, value)
end

-- The consent text field of an entry: `#<ref>` into the shared dictionary of consent texts, or the
-- text itself (`literal`) in the one case the reference already names another text.
local function consentTextField(texts, ref, text, literal)
  if ref == '' then return literal end
  if redis.call('HSETNX', texts, ref, text) == 1 or redis.call('HGET', texts, ref) == text then return '#' .. ref end
  return literal
end

-- Epoch ms (a decimal string) as the entries write times: base 36 (stored-form.ts timeCode).
local function timeCode(ms)
  local n, digits, out = tonumber(ms), '0123456789abcdefghijklmnopqrstuvwxyz', ''
  if n == 0 then return '0' end
  while n > 0 do
    local d = n % 36
    out = string.sub(digits, d + 1, d + 1) .. out
    n = (n - d) / 36
  end
  return out
end

local function jsonList(list)
  if #list == 0 then return '[]' end
  return '["' .. table.concat(list, '","') .. '"]'
end

local statusNames = { p = 'pending', c = 'confirmed', u = 'unsubscribed' }

-- A reader created by an import has no history key: its first entry ("imported", with the status,
-- newsletters and source it was created with) follows from the record as long as the record is
-- unchanged, which field `i` (the event's code) marks. Every write to the record or the history
-- calls this first, so the entry is written out, exactly as it was, before anything changes.
local function historyStart(subKey, historyKey)
  local r = redis.call('HMGET', subKey, 'i', 't', 's', 'l', 'o')
  if not r[1] then return end
  local newsletters = {}
  for nl in string.gmatch(r[4] or '', '[^,]+') do newsletters[#newsletters + 1] = nl end
  local entry = timeCode(r[2]) .. '\31' .. r[1] .. '\31{"status":"' .. (statusNames[r[3]] or 'pending') .. '","newsletters":' .. jsonList(newsletters) .. ',"source":' .. cjson.encode(r[5] or '') .. '}'
  local rest = redis.call('GET', historyKey)
  redis.call('SET', historyKey, rest and (entry .. '\30' .. rest) or entry)
  redis.call('HDEL', subKey, 'i')
end
