-- Move a batch from one of the given statuses to a new one, setting fields with it; refused
-- (nothing changed) when the batch is in any other status, so racing keepers, creators and
-- cancels each see one outcome.
-- KEYS[1] batch hash
-- ARGV[1] comma-separated statuses the batch may be in   ARGV[2] the new status
-- ARGV[3..] field, value pairs to set with it
-- Returns 1 when moved, 0 when not.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 0
end
local allowed = false
for name in string.gmatch(ARGV[1], '[^,]+') do
  if name == status then
    allowed = true
  end
end
if not allowed then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
end
return 1
