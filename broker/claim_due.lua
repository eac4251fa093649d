-- Claim items that are due from a schedule zset (member -> due ms): each claimed item's score
-- moves to now + lease, so a claimer that dies lets it come due again, and two claimers never
-- take the same item at the same time.
-- KEYS[1] the schedule (zset)
-- ARGV[1] lease ms   ARGV[2] most items to claim
-- Returns the claimed members.
local now = now_ms('')
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), member)
end
return due
