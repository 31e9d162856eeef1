--[[
  A wave of an edition delivered in readers' zones has gone (its fan-out queued every reader of
  it) or is held (it could not start within its send window): its state and history entry, and
  once no wave is left waiting, the edition's fan-out is done (and the edition finishes if every
  reader is settled already).
  KEYS[1] edition hash
  KEYS[2] the edition's waves (hash)
  KEYS[3] edition history
  ARGV[1] now (ms)
  ARGV[2] now (ISO)
  ARGV[3] the wave's zone
  ARGV[4] its new state: 'out' or 'held'
  ARGV[5] history entry (JSON)
  ARGV[6] the reason it is held ('' for none)
  Returns {changed (1 when the wave was waiting), finished (1 when this call finished the edition)}.
]]
--- @include "includes/settle"
--- @include "includes/waves"
local ed, waves, history = KEYS[1], KEYS[2], KEYS[3]
local zone = ARGV[3]
if redis.call('HGET', waves, zone .. '|state') ~= 'waiting' then return {0, 0} end
redis.call('HSET', waves, zone .. '|state', ARGV[4])
if ARGV[6] ~= '' then redis.call('HSET', waves, zone .. '|reason', ARGV[6]) end
redis.call('RPUSH', history, ARGV[5])
if wavesWaiting(waves) then return {1, 0} end
redis.call('HSET', ed, 'fanoutDone', '1')
return {1, maybeFinish(ed, history, ARGV[1], ARGV[2])}
