-- Fail a queued job that can never be admitted (it is bigger than a bucket's capacity,
-- e.g. after the limits were lowered), so it does not block its team queue for ever.
-- KEYS[1] job hash   KEYS[2] team queue   KEYS[3] active teams   KEYS[4] usage stream
-- ARGV[1] job id   ARGV[2] team   ARGV[3] error   ARGV[4] usage record JSON
-- ARGV[5] done channel   ARGV[6] seconds to keep the job
-- KEYS[5] (optional) the team's dead-letter zset: the failed job is added to it
-- Returns 1 when rejected, 0 when the job was no longer queued.
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then
  return 0
end
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
end
local now = now_ms('')
redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[3], 'usage', ARGV[4],
  'updated_at', now / 1000, 'finished_at', now / 1000)
redis.call('XADD', KEYS[4], '*', 'job_id', ARGV[1], 'record', ARGV[4])
if KEYS[5] then
  redis.call('ZADD', KEYS[5], now, ARGV[1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('PUBLISH', ARGV[5], ARGV[1])
return 1
