--[[
  Claims readers right before SMTP, many per call (the claims a worker's concurrent jobs make in
  one batch), handled in order exactly as separate calls would be. The edition's state and each
  reader's deliverability are read here, so a 06:01 unsubscribe stops a 06:00 job.
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] suppressions hash
  KEYS[4] the newsletter's daily send counter
  KEYS[5] edition history
  KEYS[6] the readers sent, once compacted (bitmap)
  KEYS[7] the edition's waves (hash; a reader skipped or cut off here counts in their wave)
  ARGV[1] now (ms)
  ARGV[2] now (ISO, for the history)
  ARGV[3] newsletter id
  ARGV[4] daily cap ('' for none)
  ARGV[5] subscriber key prefix
  ARGV[6..] per entry: subscriber id, owner (job id), lease until (ms), force ('1' resends a settled one),
            wave (the zone of the wave it is sent in, '' outside waves)
  Returns one reply per entry: {kind, ...}. An edition cut off by a relay outage (cutoffAt set)
  settles each unsent reader as failed with the edition's reason ({'cut-off', reason}); a forced
  resend still sends. A forced resend in a finished edition makes it sending again until settled.
]]
--- @include "includes/settle"
--- @include "includes/waves"
--- @include "../../subscribers/lua/includes/deliverable"
local ed, ledger, suppressions, daily, history, sentBits, waves = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local now, nowIso, nl, cap, subPrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local meta = redis.call('HMGET', ed, 'state', 'cutoffAt', 'reason')
local state, cutoff = meta[1], meta[2]

local function claimOne(subId, owner, leaseUntil, force, wave)
  if state == 'cancelled' then return {'cancelled'} end
  if state == 'paused' then return {'paused'} end
  if state ~= 'sending' and state ~= 'done' then return {'not-sending', state or 'missing'} end
  local prev, fromBits = ledgerGet(ledger, sentBits, subId)
  if cutoff and force ~= '1' then
    local kind = prev and string.sub(prev, 1, 1)
    if kind == 's' then return {'sent', prev} end
    if kind == 'f' or kind == 'k' then return {'settled', prev} end
    settleEntry(ed, ledger, sentBits, subId, 'f', 'f|' .. now .. '|' .. (meta[3] or 'send window closed'))
    countWave(waves, wave, 'f')
    maybeFinish(ed, history, now, nowIso)
    return {'cut-off', meta[3] or 'send window closed'}
  end
  if prev then
    local kind = string.sub(prev, 1, 1)
    if force ~= '1' then
      if kind == 's' then return {'sent', prev} end
      if kind == 'f' or kind == 'k' then return {'settled', prev} end
    end
    if kind == 'c' then
      local sep = string.find(prev, '|', 3, true)
      local holder = string.sub(prev, 3, sep - 1)
      local lease = tonumber(string.sub(prev, sep + 1))
      if holder ~= owner and lease > tonumber(now) then return {'busy', holder} end
    end
  end
  local skip, sub = undeliverableBecause(subPrefix .. subId, suppressions, nl)
  if skip then
    if prev and string.sub(prev, 1, 1) == 's' then return {'sent', prev} end
    settleEntry(ed, ledger, sentBits, subId, 'k', 'k|' .. now .. '|' .. skip)
    if not prev or string.sub(prev, 1, 1) == 'q' or string.sub(prev, 1, 1) == 'c' then countWave(waves, wave, 'k') end
    maybeFinish(ed, history, now, nowIso)
    return {'skipped', skip}
  end
  if cap ~= '' then
    local used = tonumber(redis.call('GET', daily) or '0')
    if used >= tonumber(cap) then return {'capped', tostring(used)} end
    redis.call('INCR', daily)
    redis.call('EXPIRE', daily, 172800)
  end
  if not prev then
    redis.call('HINCRBY', ed, 'total', 1)
    prev = 'q|' .. now
  else
    -- A forced resend replaces a settled entry: take it out of its count, or the settle that
    -- follows (which sees only the claim) would count this reader twice.
    local prevField = countField(string.sub(prev, 1, 1))
    if prevField then
      redis.call('HINCRBY', ed, prevField, -1)
      -- Not finished while this reader is being sent again: the settle that follows finishes it anew.
      if state == 'done' then
        state = 'sending'
        redis.call('HSET', ed, 'state', 'sending')
        redis.call('HDEL', ed, 'finishedAt')
        redis.call('RPUSH', history, cjson.encode({at = nowIso, event = 'reopened', by = 'resend --to', from = 'done'}))
      end
    end
  end
  ledgerSet(ledger, sentBits, subId, 'c|' .. owner .. '|' .. leaseUntil, fromBits)
  return {'claimed', sub[1], sub[2] or '', prev}
end

local out = {}
for i = 6, #ARGV, 5 do
  out[#out + 1] = claimOne(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
end
return out
