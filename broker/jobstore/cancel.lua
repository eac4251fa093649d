-- Cancel a job that no worker has started: queued, or admitted but not yet claimed.
-- KEYS[1] job hash   KEYS[2] team queue   KEYS[3] dispatched   KEYS[4] active teams
-- ARGV[1] job id   ARGV[2] team   ARGV[3] done channel   ARGV[4] seconds to keep the job
-- Returns 'cancelled', or the state that forbids cancelling.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return 'missing'
end
if state == 'queued' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if redis.call('ZCARD', KEYS[2]) == 0 then
    redis.call('SREM', KEYS[4], ARGV[2])
  end
elseif state == 'admitted' then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  return state
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'error', 'cancelled by the caller',
  'updated_at', now, 'finished_at', now)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 'cancelled'
