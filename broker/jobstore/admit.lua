-- Admit jobs from the head of one team queue, in order, each only if every token bucket it
-- draws on has room: all of a job's buckets are reserved, or none. Stops at the first job
-- that does not fit (order within a team is kept) and says how long until it would.
-- Atomic, so any number of schedulers can race for the same jobs: exactly one wins each.
-- KEYS[1] team queue (zset)   KEYS[2] dispatched (zset job id -> claim deadline ms)
-- KEYS[3] active teams (set)   then for each job: its hash, then its bucket keys
-- ARGV[1] team   ARGV[2] claim timeout ms   ARGV[3] now ms ('' = Redis TIME)   ARGV[4] job count
-- then for each job: id, model, provider, bucket count, then per bucket: capacity,
-- rate (tokens/ms), cost, axis
-- Returns {attempt or 0 (taken by someone else) for each job considered..., wait ms or -1}.
local now = now_ms(ARGV[3])
local out = {}
local k = 4
local a = 5
for _ = 1, tonumber(ARGV[4]) do
  local job_key = KEYS[k]
  local job_id, model, provider = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local n = tonumber(ARGV[a + 3])
  local first_bucket = k + 1
  local first_arg = a + 4
  k = k + 1 + n
  a = a + 4 + 4 * n
  if not redis.call('ZSCORE', KEYS[1], job_id) then
    out[#out + 1] = 0
  else
    local levels = {}
    local wait = 0
    for i = 0, n - 1 do
      local cap = tonumber(ARGV[first_arg + 4 * i])
      local rate = tonumber(ARGV[first_arg + 4 * i + 1])
      local cost = tonumber(ARGV[first_arg + 4 * i + 2])
      local level = bucket_level(KEYS[first_bucket + i], cap, rate, now)
      levels[i] = level
      if level < cost then
        local w = math.ceil((cost - level) / rate)
        if w > wait then wait = w end
      end
    end
    if wait > 0 then
      out[#out + 1] = wait
      return out
    end
    local reservation = {}
    for i = 0, n - 1 do
      local cap = tonumber(ARGV[first_arg + 4 * i])
      local rate = tonumber(ARGV[first_arg + 4 * i + 1])
      local cost = tonumber(ARGV[first_arg + 4 * i + 2])
      bucket_store(KEYS[first_bucket + i], levels[i] - cost, cap, rate, now)
      reservation[#reservation + 1] = {k = KEYS[first_bucket + i], c = ARGV[first_arg + 4 * i],
        r = ARGV[first_arg + 4 * i + 1], n = ARGV[first_arg + 4 * i + 2], a = ARGV[first_arg + 4 * i + 3]}
    end
    redis.call('ZREM', KEYS[1], job_id)
    local attempt = redis.call('HINCRBY', job_key, 'attempt', 1)
    local encoded = '[]'
    if n > 0 then encoded = cjson.encode(reservation) end
    redis.call('HSET', job_key, 'state', 'admitted', 'model', model, 'provider', provider,
      'reservation', encoded, 'admitted_at', now / 1000, 'updated_at', now / 1000)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), job_id)
    out[#out + 1] = attempt
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
end
out[#out + 1] = -1
return out
