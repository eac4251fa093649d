-- Admit one queued job: take it off its team queue and hand it to a provider.
-- Atomic, so any number of schedulers can race for the same job and exactly one wins.
-- KEYS[1] team queue (zset)      KEYS[2] dispatched (zset job id -> claim deadline ms)
-- KEYS[3] active teams (set)     KEYS[4] job hash
-- ARGV[1] job id   ARGV[2] team   ARGV[3] claim timeout ms   ARGV[4] model   ARGV[5] provider
-- Returns the new attempt number, or 0 when another scheduler (or a cancel) took the job.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local attempt = redis.call('HINCRBY', KEYS[4], 'attempt', 1)
redis.call('HSET', KEYS[4], 'state', 'admitted', 'model', ARGV[4], 'provider', ARGV[5],
  'updated_at', now_ms / 1000)
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[3]), ARGV[1])
return attempt
