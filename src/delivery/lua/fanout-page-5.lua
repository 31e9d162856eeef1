--[[
  One page of the fan-out: each reader not yet in the ledger is queued, or settled as skipped
  when they may not get the newsletter (suppressed, unsubscribed, unconfirmed). In a wave of an
  edition delivered in readers' zones, only the wave's readers are taken: a zone's wave those still
  living in that zone, the default wave those whose zone has no wave of its own (the others are
  left for their wave); each one queued or skipped counts in the wave.
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] suppressions hash
  KEYS[4] the readers sent, once compacted (bitmap)
  KEYS[5] the edition's waves (hash)
  ARGV[1] now (ms)
  ARGV[2] newsletter id
  ARGV[3] subscriber key prefix
  ARGV[4] the wave's zone ('' outside waves)
  ARGV[5] which readers are the wave's: 'only:<zone>', 'except:<zone>;<zone>...' (the zones with
          waves of their own), or '' for everyone
  ARGV[6..] subscriber ids
  Returns the readers to enqueue (new ones, and any still queued or claimed: a resumed fan-out),
  flat: id, the domain of their address (for pacing per mailbox provider), id, domain...
]]
--- @include "includes/settle"
--- @include "includes/waves"
--- @include "../../subscribers/lua/includes/deliverable"
--- @include "../../subscribers/lua/includes/reader-zone"
local ed, ledger, suppressions, sentBits, waves = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, nl, subPrefix, wave, filter = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local only, except = nil, nil
if string.sub(filter, 1, 5) == 'only:' then
  only = string.sub(filter, 6)
elseif string.sub(filter, 1, 7) == 'except:' then
  except = {}
  for z in string.gmatch(string.sub(filter, 8), '[^;]+') do except[z] = true end
end
local function inWave(subKey)
  if not only and not except then return true end
  local zone = readerZoneOf(subKey)
  if only then return zone == only end
  return not except[zone]
end
local function domainOf(email)
  return string.lower(string.match(email or '', '@([^@]*)$') or '')
end
local out = {}
for i = 6, #ARGV do
  local subId = ARGV[i]
  local subKey = subPrefix .. subId
  local prev = ledgerGet(ledger, sentBits, subId)
  if not prev then
    if inWave(subKey) then
      local skip, sub = undeliverableBecause(subKey, suppressions, nl)
      if skip then
        settleEntry(ed, ledger, sentBits, subId, 'k', 'k|' .. now .. '|' .. skip .. ' at fan-out')
        countWave(waves, wave, 'k')
      else
        redis.call('HSET', ledger, subId, 'q|' .. now)
        redis.call('HINCRBY', ed, 'total', 1)
        countWave(waves, wave, 'q')
        out[#out + 1] = subId
        out[#out + 1] = domainOf(sub[1])
      end
    end
  else
    local kind = string.sub(prev, 1, 1)
    if (kind == 'q' or kind == 'c') and inWave(subKey) then
      local _, sub = undeliverableBecause(subKey, suppressions, nl)
      out[#out + 1] = subId
      out[#out + 1] = domainOf(sub[1])
    end
  end
end
return out
