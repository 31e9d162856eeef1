--[[
  Why each reader may not get a newsletter now (for resend planning), by the same rule as the
  claim that will run before SMTP.
  KEYS[1] suppressions hash
  ARGV[1] newsletter id
  ARGV[2] subscriber key prefix (`<prefix>:sub:`)
  ARGV[3..] subscriber ids
  Returns, per id, {email or '', reason or ''}.
]]
--- @include "includes/deliverable"
local out = {}
for i = 3, #ARGV do
  local reason, sub = undeliverableBecause(ARGV[2] .. ARGV[i], KEYS[1], ARGV[1])
  out[#out + 1] = {sub[1] or '', reason or ''}
end
return out
