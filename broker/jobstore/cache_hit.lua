-- Finish a job from the cache: queued (waiting for its lookup) -> succeeded, exactly once and
-- with no provider call. Like finish.lua it appends the usage event and publishes the completion.
-- KEYS[1] job hash   KEYS[2] cache pending (zset)   KEYS[3] usage stream
-- KEYS[4] spend hash of the job's month   KEYS[5] all-time stats hash (as in finish.lua)
-- KEYS[6..8] the final-state hook keys (final_hooks.lua: webhook, batch counters)
-- ARGV[1] result JSON   ARGV[2] usage record JSON   ARGV[3] model that wrote the answer
-- ARGV[4] cache info JSON   ARGV[5] done channel   ARGV[6] job id   ARGV[7] seconds to keep the job
-- ARGV[8] JSON list of [key index (4|5), field, integer increment as text], or ''
-- ARGV[9] index in KEYS of the final-state hook keys ('' for none)
-- Returns 1 when recorded, 0 when the job already left the cache stage (nothing changed).
local f = redis.call('HMGET', KEYS[1], 'state', 'stage')
if f[1] ~= 'queued' or f[2] ~= 'cache' then
  return 0
end
local now = now_ms('')
redis.call('HSET', KEYS[1], 'state', 'succeeded', 'stage', '', 'result', ARGV[1], 'usage', ARGV[2],
  'model', ARGV[3], 'cache', ARGV[4], 'error', '', 'updated_at', now / 1000, 'finished_at', now / 1000)
redis.call('ZREM', KEYS[2], ARGV[6])
redis.call('XADD', KEYS[3], '*', 'job_id', ARGV[6], 'record', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
bump_counters(ARGV[8])
job_final_hooks(KEYS[1], 'succeeded', ARGV[2], now, ARGV[9])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
