--[[
  Turns still-failed ledger entries back into queued ones (resend --failed), moving the failed
  count with them: run twice, the second run finds nothing failed. A finished edition with readers
  queued again is sending again (it finishes anew when they are settled), and a send window cut
  off by a relay outage no longer holds: ops chose to send now.
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] edition history
  ARGV[1] now (ms)
  ARGV[2] now (ISO)
  ARGV[3] who (for the history)
  ARGV[4..] subscriber ids
  Returns the ids requeued.
]]
local ed, ledger, history = KEYS[1], KEYS[2], KEYS[3]
local out = {}
for i = 4, #ARGV do
  local prev = redis.call('HGET', ledger, ARGV[i])
  if prev and string.sub(prev, 1, 1) == 'f' then
    redis.call('HSET', ledger, ARGV[i], 'q|' .. ARGV[1])
    redis.call('HINCRBY', ed, 'failed', -1)
    out[#out + 1] = ARGV[i]
  end
end
if #out > 0 then
  if redis.call('HEXISTS', ed, 'cutoffAt') == 1 then redis.call('HDEL', ed, 'cutoffAt', 'reason') end
  if redis.call('HGET', ed, 'state') == 'done' then
    redis.call('HSET', ed, 'state', 'sending')
    redis.call('HDEL', ed, 'finishedAt')
    redis.call('RPUSH', history, cjson.encode({at = ARGV[2], event = 'reopened', by = ARGV[3], requeued = #out, from = 'done'}))
  end
end
return out
