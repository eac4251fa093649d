-- Record a job's outcome score: on the job (last write wins) and on the feedback stream.
-- Checked again here because the job may have expired since the caller read it.
-- KEYS[1] job hash   KEYS[2] feedback stream
-- ARGV[1] team   ARGV[2] feedback record JSON   ARGV[3] job id
-- Returns 1 when recorded, 0 when the job is gone, not the team's, or not finished.
local f = redis.call('HMGET', KEYS[1], 'team', 'state')
if f[1] ~= ARGV[1] or (f[2] ~= 'succeeded' and f[2] ~= 'failed') then
  return 0
end
redis.call('HSET', KEYS[1], 'feedback', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'job_id', ARGV[3], 'record', ARGV[2])
return 1
