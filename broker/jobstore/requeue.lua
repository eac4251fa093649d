-- Send a job back to its team queue, releasing its whole token reservation: after a
-- retryable provider error (advance to the next candidate model) or when its worker
-- vanished or never claimed it (same candidate again).
-- KEYS[1] job hash   KEYS[2] leases   KEYS[3] dispatched   KEYS[4] team queue
-- KEYS[5] active teams   KEYS[6..] the reservation's bucket keys
-- ARGV[1] attempt   ARGV[2] attempt record JSON   ARGV[3] 1 = next candidate, 0 = same
-- ARGV[4] 1 = only if the job's lease or claim deadline has lapsed (reaper)
-- ARGV[5] job id   ARGV[6] team   ARGV[7] earliest ms the job may run again ('' = now)
-- ARGV[8] now ms ('' = Redis TIME)   ARGV[9] scheduler wake channel
-- ARGV[10] candidates JSON, ARGV[11] candidate tokens JSON, ARGV[12] per-model cooldowns JSON:
-- a fallback plan's reordered chain (broker/fallback.py); '' (or absent) leaves each as it is
-- Returns 1 requeued, 0 stale (nothing changed), -1 no candidate left (caller fails the job).
local f = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'cursor', 'n_candidates', 'attempts',
  'queue_score', 'reservation')
local state = f[1]
if (state ~= 'running' and state ~= 'admitted') or f[2] ~= ARGV[1] then
  return 0
end
local now = now_ms(ARGV[8])
if ARGV[4] == '1' then
  local holder = KEYS[2]
  if state == 'admitted' then holder = KEYS[3] end
  local deadline = redis.call('ZSCORE', holder, ARGV[5])
  if deadline and tonumber(deadline) > now then
    return 0
  end
end
local cursor = tonumber(f[3]) + tonumber(ARGV[3])
if cursor >= tonumber(f[4]) then
  return -1
end
settle_reservation(f[7], 6, nil, nil, now)
local attempts = f[5]
if not attempts or attempts == '[]' or attempts == '' then
  attempts = '[' .. ARGV[2] .. ']'
else
  attempts = string.sub(attempts, 1, -2) .. ',' .. ARGV[2] .. ']'
end
redis.call('HSET', KEYS[1], 'state', 'queued', 'cursor', cursor, 'attempts', attempts,
  'model', '', 'provider', '', 'reservation', '', 'not_before', ARGV[7], 'updated_at', now / 1000)
if ARGV[10] and ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'candidates', ARGV[10], 'candidate_tokens', ARGV[11], 'cooldowns', ARGV[12])
end
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('ZADD', KEYS[4], f[6], ARGV[5])
redis.call('SADD', KEYS[5], ARGV[6])
redis.call('PUBLISH', ARGV[9], '1')
return 1
