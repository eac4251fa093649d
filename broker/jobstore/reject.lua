-- Fail a queued job that can never be admitted (it is bigger than a bucket's capacity,
-- e.g. after the limits were lowered), so it does not block its team queue for ever.
-- KEYS[1] job hash   KEYS[2] team queue   KEYS[3] active teams   KEYS[4] usage stream
-- ARGV[1] job id   ARGV[2] team   ARGV[3] error   ARGV[4] usage record JSON
-- ARGV[5] done channel   ARGV[6] seconds to keep the job
-- ARGV[7] index in KEYS of the final-state hook keys (final_hooks.lua) ('' = none)
-- ARGV[8] index in KEYS of the team's dead-letter zset, which the failed job joins ('' = none)
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
if ARGV[8] and ARGV[8] ~= '' then
  redis.call('ZADD', KEYS[tonumber(ARGV[8])], now, ARGV[1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
job_final_hooks(KEYS[1], 'failed', ARGV[4], now, ARGV[7])
redis.call('PUBLISH', ARGV[5], ARGV[1])
return 1
