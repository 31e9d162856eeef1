--[[
  Settles readers as failed who are still queued or claimed (a retry after the send window closed,
  a job out of tries); a reader already sent, failed or skipped is left as is. Finishes the edition
  when that settles its last reader.
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] edition history
  KEYS[4] the readers sent, once compacted (bitmap)
  KEYS[5] the edition's waves (hash; a reader given up in their wave's send counts in it)
  ARGV[1] now (ms)
  ARGV[2] now (ISO)
  ARGV[3..] per entry: subscriber id, reason, wave (its zone, '' outside waves)
  Returns {finished (0/1), then per entry 1 when settled here, else 0}.
]]
--- @include "includes/settle"
--- @include "includes/waves"
local ed, ledger, history, sentBits, waves, now, nowIso = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2]
local out = {0}
for i = 3, #ARGV, 3 do
  local prev = ledgerGet(ledger, sentBits, ARGV[i])
  local kind = prev and string.sub(prev, 1, 1)
  if kind == 'q' or kind == 'c' then
    settleEntry(ed, ledger, sentBits, ARGV[i], 'f', 'f|' .. now .. '|' .. ARGV[i + 1])
    countWave(waves, ARGV[i + 2], 'f')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
out[1] = maybeFinish(ed, history, now, nowIso)
return out
