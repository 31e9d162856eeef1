-- Shared by the scripts that settle readers in an edition's ledger. Counts move with the ledger
-- (a reader counts once, whatever retries or resends happen), and the edition finishes when its
-- last reader is settled: state, finishedAt and the history entry in the same call.
-- Ledger entries and where they live: includes/ledger.lua.
--- @include "ledger"

local function countField(kind)
  if kind == 's' then return 'sent' elseif kind == 'f' then return 'failed' elseif kind == 'k' then return 'skipped' end
  return nil
end

local function maybeFinish(ed, history, now, nowIso)
  local f = redis.call('HMGET', ed, 'state', 'fanoutDone', 'total', 'sent', 'failed', 'skipped')
  if f[1] == 'sending' and f[2] == '1' then
    local sent, failed, skipped = tonumber(f[4]) or 0, tonumber(f[5]) or 0, tonumber(f[6]) or 0
    if sent + failed + skipped >= (tonumber(f[3]) or 0) then
      redis.call('HSET', ed, 'state', 'done', 'finishedAt', now)
      redis.call('RPUSH', history, cjson.encode({at = nowIso, event = 'done', sent = sent, failed = failed, skipped = skipped}))
      return 1
    end
  end
  return 0
end

-- Writes a settled state (s, f or k) for one subscriber and keeps the counts true.
local function settleEntry(ed, ledger, sentBits, subId, kind, value)
  local prev, fromBits = ledgerGet(ledger, sentBits, subId)
  if not prev then
    redis.call('HINCRBY', ed, 'total', 1)
  else
    local prevField = countField(string.sub(prev, 1, 1))
    if prevField then redis.call('HINCRBY', ed, prevField, -1) end
  end
  ledgerSet(ledger, sentBits, subId, value, fromBits)
  redis.call('HINCRBY', ed, countField(kind), 1)
end
