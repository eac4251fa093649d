-- Cancel a job that no worker has started: queued, or admitted but not yet claimed (its
-- token reservation is released).
-- KEYS[1] job hash   KEYS[2] team queue   KEYS[3] dispatched   KEYS[4] active teams
-- KEYS[5..] the reservation's bucket keys
-- ARGV[1] job id   ARGV[2] team   ARGV[3] done channel   ARGV[4] seconds to keep the job
-- ARGV[5] index in KEYS of the final-state hook keys (final_hooks.lua), after the reservation's
-- keys ('' = none)   ARGV[6] the reason recorded as the job's error ('' = cancelled by the caller)
-- Returns 'cancelled', 'retry' (the reservation changed since the caller read it), or the
-- state that forbids cancelling.
local f = redis.call('HMGET', KEYS[1], 'state', 'reservation')
local state = f[1]
if not state then
  return 'missing'
end
if state == 'admitted' and not reservation_matches(f[2], 5) then
  return 'retry'
end
local now = now_ms('')
if state == 'queued' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if redis.call('ZCARD', KEYS[2]) == 0 then
    redis.call('SREM', KEYS[4], ARGV[2])
  end
elseif state == 'admitted' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  settle_reservation(f[2], 5, nil, nil, now)
else
  return state
end
local reason = 'cancelled by the caller'
if ARGV[6] and ARGV[6] ~= '' then
  reason = ARGV[6]
end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'error', reason,
  'reservation', '', 'updated_at', now / 1000, 'finished_at', now / 1000)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
job_final_hooks(KEYS[1], 'cancelled', '', now, ARGV[5])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 'cancelled'
