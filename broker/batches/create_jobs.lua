-- Create a batch's jobs, each only if it does not exist yet: expanding a batch a second time
-- (its creator died half way) never resets a job that has already run.
-- KEYS[1] team queue (zset)   KEYS[2] active teams (set)   KEYS[3..] job hashes
-- ARGV[1] scheduler wake channel   ARGV[2] team
-- ARGV[3..] per job, in KEYS order: its fields as a JSON object of strings, then its queue score
-- Returns the number of jobs created.
local created = 0
for i = 3, #KEYS do
  local a = 3 + (i - 3) * 2
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local fields = cjson.decode(ARGV[a])
    local flat = {}
    for name, value in pairs(fields) do
      flat[#flat + 1] = name
      flat[#flat + 1] = value
    end
    redis.call('HSET', KEYS[i], unpack(flat))
    redis.call('ZADD', KEYS[1], ARGV[a + 1], fields['id'])
    created = created + 1
  end
end
if created > 0 then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('PUBLISH', ARGV[1], '1')
end
return created
