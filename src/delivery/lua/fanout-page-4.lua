--[[
  One page of the fan-out: each reader not yet in the ledger is queued, or settled as skipped
  when they may not get the newsletter (suppressed, unsubscribed, unconfirmed).
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] suppressions hash
  KEYS[4] the readers sent, once compacted (bitmap)
  ARGV[1] now (ms)
  ARGV[2] newsletter id
  ARGV[3] subscriber key prefix
  ARGV[4..] subscriber ids
  Returns the ids to enqueue: new ones, and any still queued or claimed (a resumed fan-out).
]]
--- @include "includes/settle"
--- @include "../../subscribers/lua/includes/deliverable"
local ed, ledger, suppressions, sentBits = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, nl, subPrefix = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV do
  local subId = ARGV[i]
  local prev = ledgerGet(ledger, sentBits, subId)
  if not prev then
    local skip = undeliverableBecause(subPrefix .. subId, suppressions, nl)
    if skip then
      settleEntry(ed, ledger, sentBits, subId, 'k', 'k|' .. now .. '|' .. skip .. ' at fan-out')
    else
      redis.call('HSET', ledger, subId, 'q|' .. now)
      redis.call('HINCRBY', ed, 'total', 1)
      out[#out + 1] = subId
    end
  else
    local kind = string.sub(prev, 1, 1)
    if kind == 'q' or kind == 'c' then out[#out + 1] = subId end
  end
end
return out
