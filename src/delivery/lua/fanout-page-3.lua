--[[
  One page of the fan-out: each reader not yet in the ledger is queued, or settled as skipped
  when they may not get the newsletter (suppressed, unsubscribed, unconfirmed).
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] suppressions hash
  ARGV[1] now (ms)
  ARGV[2] newsletter id
  ARGV[3] subscriber key prefix
  ARGV[4..] subscriber ids
  Returns the readers to enqueue (new ones, and any still queued or claimed: a resumed fan-out),
  flat: id, the domain of their address (for pacing per mailbox provider), id, domain...
]]
--- @include "includes/settle"
--- @include "../../subscribers/lua/includes/deliverable"
local ed, ledger, suppressions = KEYS[1], KEYS[2], KEYS[3]
local now, nl, subPrefix = ARGV[1], ARGV[2], ARGV[3]
local out = {}
local function domainOf(email)
  return string.lower(string.match(email or '', '@([^@]*)$') or '')
end
for i = 4, #ARGV do
  local subId = ARGV[i]
  local prev = redis.call('HGET', ledger, subId)
  if not prev then
    local skip, sub = undeliverableBecause(subPrefix .. subId, suppressions, nl)
    if skip then
      settleEntry(ed, ledger, subId, 'k', 'k|' .. now .. '|' .. skip .. ' at fan-out')
    else
      redis.call('HSET', ledger, subId, 'q|' .. now)
      redis.call('HINCRBY', ed, 'total', 1)
      out[#out + 1] = subId
      out[#out + 1] = domainOf(sub[1])
    end
  else
    local kind = string.sub(prev, 1, 1)
    if kind == 'q' or kind == 'c' then
      local _, sub = undeliverableBecause(subPrefix .. subId, suppressions, nl)
      out[#out + 1] = subId
      out[#out + 1] = domainOf(sub[1])
    end
  end
end
return out
