-- Keep one cached answer: the entry with its TTL, and the indexes that evict and purge it.
-- KEYS[1] entry (string)   KEYS[2] scope index (zset entry id -> last use, microseconds)
-- KEYS[3] owner index (set of scope ids)   KEYS[4] template index (set of entry ids), optional
-- ARGV[1] entry JSON   ARGV[2] entry id   ARGV[3] scope id   ARGV[4] TTL ms
-- ARGV[5] most entries the scope may hold
-- Returns the ids that left the scope: expired (unused for a whole TTL) or evicted (least
-- recently used beyond the limit). Their entries are deleted by the caller, which also drops
-- their vectors.
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now_us, ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_us - ttl * 1000)
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_us - ttl * 1000)
end
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #popped, 2 do
    gone[#gone + 1] = popped[i]
  end
end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ttl)
if #KEYS >= 4 then
  redis.call('SADD', KEYS[4], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ttl)
end
return gone
