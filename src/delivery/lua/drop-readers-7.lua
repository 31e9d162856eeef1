--[[
  After the longer retention: an edition's per-reader data goes (its ledger, sent bitmap, bounced
  readers, MIME template and, for an edition that was under approval, the plan it was rendered
  from), while its hash (counts), history and stored content
  (the archive page) stay. Once: a second run finds it marked and deletes nothing more.
  KEYS[1] edition hash
  KEYS[2] edition history
  KEYS[3] ledger
  KEYS[4] the readers sent (bitmap)
  KEYS[5] the edition's bounced readers
  KEYS[6] MIME template
  KEYS[7] the plan an edition under approval was rendered from
  ARGV[1] now (ms)
  ARGV[2] history entry (JSON)
  Returns 1 when this call dropped them.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'readersDroppedAt', ARGV[1]) == 0 then return 0 end
redis.call('UNLINK', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
