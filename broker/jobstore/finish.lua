-- Record a job's final outcome exactly once, however often the job was delivered.
-- Only the worker holding the current attempt of a running job may finish it.
-- KEYS[1] job hash   KEYS[2] leases (zset)   KEYS[3] usage stream
-- ARGV[1] attempt    ARGV[2] final state (succeeded|failed)   ARGV[3] result JSON or ''
-- ARGV[4] usage record JSON   ARGV[5] attempt record JSON   ARGV[6] error or ''
-- ARGV[7] done channel   ARGV[8] job id   ARGV[9] seconds to keep the finished job
-- Optional counters, bumped in the same step so spend is counted exactly once with the result:
-- KEYS[4] spend hash of the job's month   KEYS[5] all-time stats hash
-- ARGV[10] JSON list of [key index (4|5), field, integer increment as text]
-- Returns 1 when recorded, 0 when this delivery is stale (nothing changed).
local f = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'attempts')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then
  return 0
end
local attempts = f[3]
if not attempts or attempts == '[]' or attempts == '' then
  attempts = '[' .. ARGV[5] .. ']'
else
  attempts = string.sub(attempts, 1, -2) .. ',' .. ARGV[5] .. ']'
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'result', ARGV[3], 'usage', ARGV[4],
  'attempts', attempts, 'error', ARGV[6], 'updated_at', now, 'finished_at', now)
redis.call('ZREM', KEYS[2], ARGV[8])
redis.call('XADD', KEYS[3], '*', 'job_id', ARGV[8], 'record', ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[9]))
if ARGV[10] and ARGV[10] ~= '' then
  for _, bump in ipairs(cjson.decode(ARGV[10])) do
    redis.call('HINCRBY', KEYS[tonumber(bump[1])], bump[2], bump[3])
  end
end
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
