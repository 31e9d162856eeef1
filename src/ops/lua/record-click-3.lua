--[[
  Counts one followed story link, human or automated, in aggregate only. The client's memory
  (a keyed hash of IP and user agent, never the reader) lives at most a minute from its first
  click and is what the burst rule reads: a client that follows `threshold` different stories of
  the edition within `window` ms is a link scanner, so that click and the ones before it in the
  window count as automated. The same client following the same story again within the minute
  is not counted twice.
  KEYS[1] the edition's click counts (hash `<story>|h`, `<story>|a`)
  KEYS[2] this client's memory for the edition (hash story -> `<ms>|<h|a>`)
  KEYS[3] cluster-wide totals, only ever increasing (Prometheus counters): hash `<newsletter>|n`
          every click counted, `<newsletter>|a` those found automated (a burst's earlier clicks
          join it when it is recognised)
  ARGV[1] now (ms)
  ARGV[2] story key
  ARGV[3] 'h' (a person, unless the burst rule says otherwise) or 'a' (automated already: HEAD, a scanner's user agent)
  ARGV[4] burst window (ms)
  ARGV[5] burst threshold (distinct stories)
  ARGV[6] client memory lifetime (ms)
  ARGV[7] newsletter id
  Returns {'counted', kind, reclassified} | {'repeat', kind}.
]]
local now = tonumber(ARGV[1])
local story = ARGV[2]
local seen = redis.call('HGET', KEYS[2], story)
if seen then return {'repeat', string.sub(seen, -1)} end
local window = tonumber(ARGV[4])
local threshold = tonumber(ARGV[5])
local entries = redis.call('HGETALL', KEYS[2])
local recent = {}
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local bar = string.find(value, '|', 1, true)
  local at = tonumber(string.sub(value, 1, bar - 1))
  if now - at <= window then recent[#recent + 1] = { entries[i], at, string.sub(value, bar + 1) } end
end
local kind = ARGV[3]
local reclassified = 0
if kind == 'h' and #recent + 1 >= threshold then
  kind = 'a'
  for _, r in ipairs(recent) do
    if r[3] == 'h' then
      redis.call('HINCRBY', KEYS[1], r[1] .. '|h', -1)
      redis.call('HINCRBY', KEYS[1], r[1] .. '|a', 1)
      redis.call('HINCRBY', KEYS[3], ARGV[7] .. '|a', 1)
      redis.call('HSET', KEYS[2], r[1], r[2] .. '|a')
      reclassified = reclassified + 1
    end
  end
end
redis.call('HINCRBY', KEYS[1], story .. '|' .. kind, 1)
redis.call('HINCRBY', KEYS[3], ARGV[7] .. '|n', 1)
if kind == 'a' then redis.call('HINCRBY', KEYS[3], ARGV[7] .. '|a', 1) end
redis.call('HSET', KEYS[2], story, now .. '|' .. kind)
-- The expiry is set once, at the first click: the memory never outlives its first minute.
if #entries == 0 then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[6])) end
return {'counted', kind, reclassified}
