--[[
  Marks the fan-out finished (everyone the edition is for is in the ledger) and finishes the
  edition if they are all settled already.
  KEYS[1] edition hash
  KEYS[2] edition history
  ARGV[1] now (ms)
  ARGV[2] now (ISO)
  ARGV[3] history entry for the fan-out (JSON), '' for none
  Returns 1 when this call finished the edition.
]]
--- @include "includes/settle"
if redis.call('HGET', KEYS[1], 'fanoutDone') ~= '1' then
  redis.call('HSET', KEYS[1], 'fanoutDone', '1')
  if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[3]) end
end
return maybeFinish(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
