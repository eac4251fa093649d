-- Create a batch's jobs, each only if it does not exist yet: expanding a batch a second time
-- (its creator died half way) never resets a job that has already run. A cacheable job waits
-- for its cache lookup (stage 'cache', in the cache-pending zset) instead of its team queue,
-- exactly as a job submitted alone would.
-- KEYS[1] team queue (zset)   KEYS[2] active teams (set)   KEYS[3] cache pending (zset)
-- KEYS[4..] job hashes
-- ARGV[1] scheduler wake channel   ARGV[2] team
-- ARGV[3..] per job, in KEYS order: its fields as a JSON object of strings, its queue score,
-- and 'cache' when it waits for a cache lookup ('' otherwise)
-- Returns {number of jobs created, ids of the created jobs that wait for a cache lookup...}.
local created = 0
local queued = 0
local lookups = {}
for i = 4, #KEYS do
  local a = 3 + (i - 4) * 3
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local fields = cjson.decode(ARGV[a])
    local flat = {}
    for name, value in pairs(fields) do
      flat[#flat + 1] = name
      flat[#flat + 1] = value
    end
    redis.call('HSET', KEYS[i], unpack(flat))
    if ARGV[a + 2] == 'cache' then
      redis.call('HSET', KEYS[i], 'stage', 'cache')
      redis.call('ZADD', KEYS[3], math.floor(tonumber(fields['created_at']) * 1000), fields['id'])
      lookups[#lookups + 1] = fields['id']
    else
      redis.call('ZADD', KEYS[1], ARGV[a + 1], fields['id'])
      queued = queued + 1
    end
    created = created + 1
  end
end
if queued > 0 then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('PUBLISH', ARGV[1], '1')
end
local out = {created}
for _, id in ipairs(lookups) do
  out[#out + 1] = id
end
return out
