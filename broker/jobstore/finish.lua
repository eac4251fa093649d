-- Record a job's final outcome exactly once, however often the job was delivered; in the same
-- step settle its token reservation against real usage, bump the spend counters and run the
-- final-state hooks (webhook, batch counters), so none of them can be lost or doubled by a
-- redelivery.
-- Only the worker holding the current attempt of a running job may finish it.
-- KEYS[1] job hash   KEYS[2] leases (zset)   KEYS[3] usage stream
-- KEYS[4] spend hash of the job's month   KEYS[5] all-time stats hash
-- KEYS[6..] the bucket keys of the job's reservation, in its order, then the final-state hook
-- keys (final_hooks.lua)
-- ARGV[1] attempt    ARGV[2] final state (succeeded|failed)   ARGV[3] result JSON or ''
-- ARGV[4] usage record JSON   ARGV[5] attempt record JSON   ARGV[6] error or ''
-- ARGV[7] done channel   ARGV[8] job id   ARGV[9] seconds to keep the finished job
-- ARGV[10] real input tokens   ARGV[11] real output tokens ('' for both: release all)
-- ARGV[12] now ms ('' = Redis TIME)   ARGV[13] scheduler wake channel (tokens given back wake
-- the schedulers, as a refill would)
-- ARGV[14] JSON list of [key index (4|5), field, integer increment as text], or ''
-- ARGV[15] index in KEYS of the final-state hook keys, after the reservation's keys; '' for none
-- ARGV[16] index in KEYS of the team's dead-letter zset (after the hook keys): a failed job is
-- added to it in this same step, so exactly once; '' for none
-- Returns 1 when recorded, 0 when this delivery is stale (nothing changed).
local f = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'attempts', 'reservation')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then
  return 0
end
local now = now_ms(ARGV[12])
if ARGV[10] == '' then
  settle_reservation(f[4], 6, nil, nil, now)
else
  settle_reservation(f[4], 6, tonumber(ARGV[10]), tonumber(ARGV[11]), now)
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
bump_counters(ARGV[14])
if ARGV[16] and ARGV[16] ~= '' and ARGV[2] == 'failed' then
  redis.call('ZADD', KEYS[tonumber(ARGV[16])], now, ARGV[8])
end
job_final_hooks(KEYS[1], ARGV[2], ARGV[4], now, ARGV[15])
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
