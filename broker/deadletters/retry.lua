-- Send a failed job from its team's dead-letter list back to its team queue, as the same
-- job (same id): a fresh candidate chain and attempt budget, earlier attempts kept.
-- KEYS[1] job hash   KEYS[2] the team's dead-letter zset   KEYS[3] team queue   KEYS[4] active teams
-- ARGV[1] job id   ARGV[2] team   ARGV[3] candidates JSON   ARGV[4] candidate tokens JSON
-- ARGV[5] number of candidates   ARGV[6] input tokens (first candidate)   ARGV[7] scheduler wake channel
-- ARGV[8] the routing table's order of the candidates (JSON)
-- Returns 1 requeued, 0 not in the dead-letter list, or the job's state when it is not failed.
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end
local f = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'queue_score')
if not f[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])  -- the job record expired: nothing left to retry
  return 0
end
if f[1] ~= 'failed' then
  return f[1]
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'queued', 'candidates', ARGV[3], 'candidate_tokens', ARGV[4],
  'n_candidates', ARGV[5], 'input_tokens', ARGV[6], 'cursor', 0, 'attempt_base', f[2] or 0,
  'cooldowns', '', 'not_before', '', 'error', '', 'result', '', 'usage', '', 'model', '', 'provider', '',
  'reservation', '', 'preferred', ARGV[8], 'updated_at', now, 'retried_at', now)
redis.call('HDEL', KEYS[1], 'finished_at')
redis.call('HINCRBY', KEYS[1], 'retries', 1)
redis.call('PERSIST', KEYS[1])
redis.call('ZADD', KEYS[3], f[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('PUBLISH', ARGV[7], '1')
return 1
