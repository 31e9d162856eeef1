-- The one rule for "may this reader get this newsletter now?" (owner: subscribers). The fan-out,
-- the claim right before SMTP and resend planning all include this, so they always agree.
-- subKey: the subscriber's hash (stored-form.ts: e email, n name, s status p/c/u, h email hash,
-- l newsletters); suppressions: the suppression hash; newsletterId: the newsletter.
-- Returns the reason the reader may not get it (nil when they may), and the fields read:
-- {email, name, status, emailHash, newsletters}.
local function undeliverableBecause(subKey, suppressions, newsletterId)
  local sub = redis.call('HMGET', subKey, 'e', 'n', 's', 'h', 'l')
  if not sub[1] then return 'subscriber no longer exists', sub end
  if redis.call('HEXISTS', suppressions, sub[4] or '') == 1 then return 'suppressed', sub end
  if sub[3] == 'u' then return 'unsubscribed', sub end
  if sub[3] ~= 'c' then return 'not confirmed', sub end
  if not string.find(',' .. (sub[5] or '') .. ',', ',' .. newsletterId .. ',', 1, true) then
    return 'unsubscribed from ' .. newsletterId, sub
  end
  return nil, sub
end
