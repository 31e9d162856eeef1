--[[
  Records outcomes after SMTP answered, many per call, in order; finishes the edition when the
  last reader is settled.
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] edition history
  KEYS[4] the readers sent, once compacted (bitmap)
  KEYS[5] the edition's waves (hash; a reader settled by their wave's send counts in it)
  ARGV[1] now (ms)
  ARGV[2] now (ISO)
  ARGV[3..] per entry: subscriber id, kind (s|f|k), detail ('' for sent: Message-IDs are derived),
            wave (its zone, '' outside waves)
  Returns 1 when this call finished the edition.
]]
--- @include "includes/settle"
--- @include "includes/waves"
local ed, ledger, history, sentBits, waves, now, nowIso = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2]
for i = 3, #ARGV, 4 do
  local kind, wave = ARGV[i + 1], ARGV[i + 3]
  -- A wave counts each reader once: only a settle of an unsettled reader moves its count.
  local open = true
  if wave ~= '' then
    local prev = ledgerGet(ledger, sentBits, ARGV[i])
    open = not prev or string.sub(prev, 1, 1) == 'q' or string.sub(prev, 1, 1) == 'c'
  end
  settleEntry(ed, ledger, sentBits, ARGV[i], kind, kind .. '|' .. now .. '|' .. ARGV[i + 2])
  if open then countWave(waves, wave, kind) end
end
return maybeFinish(ed, history, now, nowIso)
