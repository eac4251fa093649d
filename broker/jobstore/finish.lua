-- Record a job's final outcome exactly once, however often the job was delivered, and settle
-- its token reservation against real usage in the same step.
-- Only the worker holding the current attempt of a running job may finish it.
-- KEYS[1] job hash   KEYS[2] leases (zset)   KEYS[3] usage stream
-- KEYS[4..] the bucket keys of the job's reservation, in its order
-- ARGV[1] attempt    ARGV[2] final state (succeeded|failed)   ARGV[3] result JSON or ''
-- ARGV[4] usage record JSON   ARGV[5] attempt record JSON   ARGV[6] error or ''
-- ARGV[7] done channel   ARGV[8] job id   ARGV[9] seconds to keep the finished job
-- ARGV[10] real input tokens   ARGV[11] real output tokens ('' for both: release all)
-- ARGV[12] now ms ('' = Redis TIME)   ARGV[13] scheduler wake channel (tokens given back wake
-- the schedulers, as a refill would)
-- ARGV[14] '1': KEYS[#KEYS] is the team's dead-letter zset, and a failed job is added to it
-- in this same step (so exactly once)
-- Returns 1 when recorded, 0 when this delivery is stale (nothing changed).
local f = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'attempts', 'reservation')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then
  return 0
end
local now = now_ms(ARGV[12])
if ARGV[10] == '' then
  settle_reservation(f[4], 4, nil, nil, now)
else
  settle_reservation(f[4], 4, tonumber(ARGV[10]), tonumber(ARGV[11]), now)
end
if f[4] and f[4] ~= '' and f[4] ~= '[]' then
  redis.call('PUBLISH', ARGV[13], '1')
end
local attempts = f[3]
if not attempts or attempts == '[]' or attempts == '' then
  attempts = '[' .. ARGV[5] .. ']'
else
  attempts = string.sub(attempts, 1, -2) .. ',' .. ARGV[5] .. ']'
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'result', ARGV[3], 'usage', ARGV[4],
  'attempts', attempts, 'error', ARGV[6], 'reservation', '', 'updated_at', now / 1000,
  'finished_at', now / 1000)
redis.call('ZREM', KEYS[2], ARGV[8])
if ARGV[14] == '1' and ARGV[2] == 'failed' then
  redis.call('ZADD', KEYS[#KEYS], now, ARGV[8])
end
redis.call('XADD', KEYS[3], '*', 'job_id', ARGV[8], 'record', ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[9]))
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
