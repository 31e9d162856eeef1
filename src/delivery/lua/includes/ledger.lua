-- The ledger (owner: the edition store) is a hash, subscriber id -> entry, over a bitmap of the
-- readers sent (bit = subscriber id) once the edition is compacted. An id is in at most one of
-- the two: compaction moves a sent entry from the hash to its bit (compact-page-2.lua), and a later
-- write to the hash (a forced resend) clears the bit. Readers look in the hash first, then the bit.
-- Entries: `q|<at>` queued, `c|<owner>|<leaseUntil>` claimed, `s|<at>|<messageId>` sent,
-- `f|<at>|<reason>` failed, `k|<at>|<reason>` skipped; a bit reads as `s|` (sent, no detail).

-- Whether the edition has a sent bitmap (it is compacted), asked once per script call: the
-- scripts that use the ledger only ever clear bits, so the answer cannot change within a call.
local sentBitsExist = {}
local function hasSentBits(sentBits)
  local known = sentBitsExist[sentBits]
  if known == nil then
    known = redis.call('EXISTS', sentBits) == 1
    sentBitsExist[sentBits] = known
  end
  return known
end

-- The entry of a reader, and whether it came from the sent bitmap.
local function ledgerGet(ledger, sentBits, subId)
  local v = redis.call('HGET', ledger, subId)
  if v then return v, false end
  if tonumber(subId) and hasSentBits(sentBits) and redis.call('GETBIT', sentBits, subId) == 1 then return 's|', true end
  return false, false
end

-- Writes a reader's entry; `fromBits` (from ledgerGet) clears the bit it replaces.
local function ledgerSet(ledger, sentBits, subId, value, fromBits)
  redis.call('HSET', ledger, subId, value)
  if fromBits then redis.call('SETBIT', sentBits, subId, 0) end
end
