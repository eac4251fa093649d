-- Claim dispatched jobs for a worker: admitted -> running, under a lease the worker renews.
-- A job whose attempt moved on (requeued, cancelled, claimed by a redelivery) is skipped,
-- which is what makes a redelivered Celery message harmless.
-- KEYS[1] leases (zset job id -> lease deadline ms)   KEYS[2] dispatched (zset)
-- KEYS[3..n] job hashes
-- ARGV[1] lease ms   ARGV[2] worker id   ARGV[3..n] expected attempt of each job, as KEYS
-- Returns, for each claimed job, its hash as a flat field/value array.
local now = now_ms('')
local claimed = {}
for i = 3, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'state', 'attempt', 'id')
  if f[1] == 'admitted' and f[2] == ARGV[i] then
    redis.call('HSET', KEYS[i], 'state', 'running', 'worker', ARGV[2],
      'started_at', now / 1000, 'updated_at', now / 1000)
    redis.call('ZREM', KEYS[2], f[3])
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), f[3])
    claimed[#claimed + 1] = redis.call('HGETALL', KEYS[i])
  end
end
return claimed
