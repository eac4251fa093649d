-- Send a job on from the cache stage to its team queue, as the enqueue at submit would have:
-- its lookup missed, or (the scheduler's reaper) no lookup ran in time.
-- KEYS[1] job hash   KEYS[2] cache pending (zset job id -> created ms)   KEYS[3] team queue
-- KEYS[4] active teams
-- ARGV[1] job id   ARGV[2] team   ARGV[3] 0, or: only if the job has waited at least this many ms
-- ARGV[4] cache info JSON (why it missed)   ARGV[5] scheduler wake channel
-- Returns 1 moved, 0 not in the cache stage or not waited long enough (nothing changed but a
-- dangling pending entry of a cancelled or expired job, which is dropped).
local f = redis.call('HMGET', KEYS[1], 'state', 'stage', 'queue_score')
if f[1] ~= 'queued' or f[2] ~= 'cache' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local now = now_ms('')
if ARGV[3] ~= '0' then
  local since = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if since and tonumber(since) + tonumber(ARGV[3]) > now then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'stage', '', 'cache', ARGV[4], 'updated_at', now / 1000)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], f[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('PUBLISH', ARGV[5], '1')
return 1
