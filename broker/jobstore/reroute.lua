-- Reorder a queued job's remaining candidates: the scheduler's router found a healthier
-- model to try first. Compare-and-set: the job must still be queued with the candidates and
-- cursor the caller read (so the new order is a permutation of the same remaining models).
-- KEYS[1] job hash   KEYS[2] team queue
-- ARGV[1] job id   ARGV[2] candidates JSON as read   ARGV[3] cursor as read
-- ARGV[4] new candidates JSON   ARGV[5] new candidate tokens JSON
-- Returns 1 when reordered, 0 when stale (nothing changed).
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end
local f = redis.call('HMGET', KEYS[1], 'candidates', 'cursor')
if f[1] ~= ARGV[2] or f[2] ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], 'candidates', ARGV[4], 'candidate_tokens', ARGV[5])
return 1
