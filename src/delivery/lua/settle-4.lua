--[[
  Records outcomes after SMTP answered, many per call, in order; finishes the edition when the
  last reader is settled.
  KEYS[1] edition hash
  KEYS[2] ledger
  KEYS[3] edition history
  KEYS[4] the readers sent, once compacted (bitmap)
  ARGV[1] now (ms)
  ARGV[2] now (ISO)
  ARGV[3..] per entry: subscriber id, kind (s|f|k), detail ('' for sent: Message-IDs are derived)
  Returns 1 when this call finished the edition.
]]
--- @include "includes/settle"
local ed, ledger, history, sentBits, now, nowIso = KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2]
for i = 3, #ARGV, 3 do
  local kind = ARGV[i + 1]
  settleEntry(ed, ledger, sentBits, ARGV[i], kind, kind .. '|' .. now .. '|' .. ARGV[i + 2])
end
return maybeFinish(ed, history, now, nowIso)
