/**
 * Lua for the per-edition, per-subscriber ledger. Each runs atomically in Redis, so two workers
 * (or a worker and a repeated fan-out) can never both decide to mail the same reader.
 *
 * Ledger values: `q|<at>` queued by fan-out, `c|<owner>|<leaseUntil>` claimed for sending,
 * `s|<at>|<messageId>` sent, `f|<at>|<reason>` failed, `k|<at>|<reason>` skipped.
 */

/** Counts move with the ledger: a settled entry counts once, whatever retries or resends happen. */
const settleHelpers = `
local function countField(kind)
  if kind == 's' then return 'sent' elseif kind == 'f' then return 'failed' elseif kind == 'k' then return 'skipped' end
  return nil
end

local function maybeFinish(ed, now)
  local f = redis.call('HMGET', ed, 'state', 'fanoutDone', 'total', 'sent', 'failed', 'skipped')
  if f[1] == 'sending' and f[2] == '1' then
    local settled = (tonumber(f[4]) or 0) + (tonumber(f[5]) or 0) + (tonumber(f[6]) or 0)
    if settled >= (tonumber(f[3]) or 0) then
      redis.call('HSET', ed, 'state', 'done', 'finishedAt', now)
      return 1
    end
  end
  return 0
end

-- Writes a settled state (s, f or k) for one subscriber and keeps the counts true.
local function settleEntry(ed, ledger, subId, kind, value)
  local prev = redis.call('HGET', ledger, subId)
  if not prev then
    redis.call('HINCRBY', ed, 'total', 1)
  else
    local prevField = countField(string.sub(prev, 1, 1))
    if prevField then redis.call('HINCRBY', ed, prevField, -1) end
  end
  redis.call('HSET', ledger, subId, value)
  redis.call('HINCRBY', ed, countField(kind), 1)
end

local function settle(ed, ledger, subId, kind, value, now)
  settleEntry(ed, ledger, subId, kind, value)
  return maybeFinish(ed, now)
end
`;

/**
 * KEYS: edition, ledger, suppressions, then one subscriber hash per id.
 * ARGV: now, newsletterId, then the ids.
 * Returns the ids to enqueue: new ones, and any still queued or claimed (a resumed fan-out).
 */
export const fanoutPageScript = `${settleHelpers}
local ed, ledger, suppressions = KEYS[1], KEYS[2], KEYS[3]
local now, nl = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local subId = ARGV[i]
  local prev = redis.call('HGET', ledger, subId)
  if not prev then
    local sub = redis.call('HMGET', KEYS[i + 1], 'status', 'emailHash', 'newsletters')
    local skip = nil
    if sub[1] ~= 'confirmed' then skip = 'not confirmed'
    elseif redis.call('HEXISTS', suppressions, sub[2]) == 1 then skip = 'suppressed'
    elseif not string.find(',' .. (sub[3] or '') .. ',', ',' .. nl .. ',', 1, true) then skip = 'not subscribed'
    end
    if skip then
      settle(ed, ledger, subId, 'k', 'k|' .. now .. '|' .. skip .. ' at fan-out', now)
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
`;

/**
 * Claim subscribers before SMTP, many per call (the claims a worker's concurrent jobs make in one
 * event-loop turn). The edition's state, each reader's status and the suppression list are read
 * here, right before the send, so a 06:01 unsubscribe stops a 06:00 job. Entries are handled in
 * order, exactly as separate calls would be.
 * KEYS: edition, ledger, suppressions, dailyCounter, then one subscriber hash per entry
 * ARGV: now, newsletterId, dailyCap ('' for none), then per entry: subId, owner, leaseUntil, force ('1' resends a settled one)
 * Returns one reply per entry: {kind, a, b, c}.
 */
export const claimScript = `${settleHelpers}
local ed, ledger, suppressions, daily = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, nl, cap = ARGV[1], ARGV[2], ARGV[3]
local state = redis.call('HGET', ed, 'state')

local function claimOne(subId, subKey, owner, leaseUntil, force)
  if state == 'cancelled' then return {'cancelled'} end
  if state == 'paused' then return {'paused'} end
  if state ~= 'sending' and state ~= 'done' then return {'not-sending', state or 'missing'} end
  local prev = redis.call('HGET', ledger, subId)
  if prev then
    local kind = string.sub(prev, 1, 1)
    if force ~= '1' then
      if kind == 's' then return {'sent', prev} end
      if kind == 'f' or kind == 'k' then return {'settled', prev} end
    end
    if kind == 'c' then
      local sep = string.find(prev, '|', 3, true)
      local holder = string.sub(prev, 3, sep - 1)
      local lease = tonumber(string.sub(prev, sep + 1))
      if holder ~= owner and lease > tonumber(now) then return {'busy', holder} end
    end
  end
  local sub = redis.call('HMGET', subKey, 'email', 'name', 'status', 'emailHash', 'newsletters')
  local skip = nil
  if not sub[1] then skip = 'subscriber no longer exists'
  elseif redis.call('HEXISTS', suppressions, sub[4]) == 1 then skip = 'suppressed'
  elseif sub[3] ~= 'confirmed' then skip = 'unsubscribed'
  elseif not string.find(',' .. (sub[5] or '') .. ',', ',' .. nl .. ',', 1, true) then skip = 'unsubscribed from ' .. nl
  end
  if skip then
    if prev and string.sub(prev, 1, 1) == 's' then return {'sent', prev} end
    settle(ed, ledger, subId, 'k', 'k|' .. now .. '|' .. skip, now)
    return {'skipped', skip}
  end
  if cap ~= '' then
    local used = tonumber(redis.call('GET', daily) or '0')
    if used >= tonumber(cap) then return {'capped', tostring(used)} end
    redis.call('INCR', daily)
    redis.call('EXPIRE', daily, 172800)
  end
  if not prev then
    redis.call('HINCRBY', ed, 'total', 1)
    prev = 'q|' .. now
  else
    -- A forced resend replaces a settled entry: take it out of its count, or the settle that
    -- follows (which sees only the claim) would count this reader twice.
    local prevField = countField(string.sub(prev, 1, 1))
    if prevField then redis.call('HINCRBY', ed, prevField, -1) end
  end
  redis.call('HSET', ledger, subId, 'c|' .. owner .. '|' .. leaseUntil)
  return {'claimed', sub[1], sub[2] or '', prev}
end

local out = {}
local entry = 0
for i = 4, #ARGV, 4 do
  entry = entry + 1
  out[entry] = claimOne(ARGV[i], KEYS[4 + entry], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
return out
`;

/**
 * Record outcomes after SMTP answered, many per call, in order; finishes the edition when the
 * last reader is settled.
 * KEYS: edition, ledger. ARGV: now, then per entry: subId, kind (s|f|k), detail.
 * Returns 1 when this call finished the edition.
 */
export const settleScript = `${settleHelpers}
local ed, ledger, now = KEYS[1], KEYS[2], ARGV[1]
for i = 2, #ARGV, 3 do
  local kind = ARGV[i + 1]
  settleEntry(ed, ledger, ARGV[i], kind, kind .. '|' .. now .. '|' .. ARGV[i + 2])
end
return maybeFinish(ed, now)
`;

/**
 * Gives a claim back (a paused edition, a capped day): the subscriber is queued again.
 * KEYS: ledger. ARGV: subId, owner, now.
 */
export const releaseScript = `
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev and string.sub(prev, 1, 2 + #ARGV[2]) == 'c|' .. ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], 'q|' .. ARGV[3])
  return 1
end
return 0
`;

/** KEYS: edition. ARGV: now. Marks fan-out finished and finishes the edition if all are settled. */
export const fanoutDoneScript = `${settleHelpers}
redis.call('HSET', KEYS[1], 'fanoutDone', '1')
return maybeFinish(KEYS[1], ARGV[1])
`;
