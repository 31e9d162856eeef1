-- A reader's own time zone as stored on their record (field `z`, subscribers/stored-form.ts; ''
-- when unset: the newsletter's). Owner:
-- subscribers (the record's field names are theirs); the fan-out of a wave includes it.
local function readerZoneOf(subKey)
  return redis.call('HGET', subKey, 'z') or ''
end
