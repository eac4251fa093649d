-- What else moves, in the same atomic step, when a job reaches a final state. Prepended to
-- finish.lua, cancel.lua, reject.lua and cache_hit.lua, which call job_final_hooks once they have recorded
-- the final state:
-- * a job with a callback_url gets its webhook event scheduled (due now);
-- * a job of a batch moves its batch's counters, exactly once with the job, and the batch is
--   put up for the batch keeper the moment its last job ends.
-- Keys, passed by the caller at KEYS[base], KEYS[base + 1], KEYS[base + 2]:
--   webhooks due (zset event id -> ms)   batches due (zset batch id -> ms)
--   batch counters (hash '<batch id>:<counter>' -> number)
-- base '' or nil: the caller passed no hook keys (nothing is done).
-- Also here, for the same scripts: bump_counters.

-- Spend and stats increments (broker.budgets.counters): a JSON list of
-- [index in KEYS, field, integer increment as text]; '' or nil: nothing to add.
local function bump_counters(spec)
  if not spec or spec == '' then
    return
  end
  for _, bump in ipairs(cjson.decode(spec)) do
    redis.call('HINCRBY', KEYS[tonumber(bump[1])], bump[2], bump[3])
  end
end

local function job_final_hooks(job_key, state, usage_json, now, base)
  if not base or base == '' then
    return
  end
  base = tonumber(base)
  local f = redis.call('HMGET', job_key, 'id', 'callback_url', 'batch_id')
  if f[2] and f[2] ~= '' then
    redis.call('ZADD', KEYS[base], 'NX', now, 'job:' .. f[1])
  end
  local batch = f[3]
  if not batch or batch == '' then
    return
  end
  local counts = KEYS[base + 2]
  if redis.call('HEXISTS', counts, batch .. ':jobs') == 0 then
    return -- the batch was finalized already (or never expanded): nothing to count
  end
  redis.call('HINCRBY', counts, batch .. ':' .. state, 1)
  if usage_json and usage_json ~= '' then
    local u = cjson.decode(usage_json)
    redis.call('HINCRBY', counts, batch .. ':input_tokens', tonumber(u['input_tokens']) or 0)
    redis.call('HINCRBY', counts, batch .. ':output_tokens', tonumber(u['output_tokens']) or 0)
    redis.call('HINCRBY', counts, batch .. ':cached_tokens', tonumber(u['cached_tokens']) or 0)
    redis.call('HINCRBYFLOAT', counts, batch .. ':cost_usd', string.format('%.10f', tonumber(u['cost_usd']) or 0))
  end
  local c = redis.call('HMGET', counts, batch .. ':jobs', batch .. ':succeeded', batch .. ':failed',
    batch .. ':cancelled')
  local ended = (tonumber(c[2]) or 0) + (tonumber(c[3]) or 0) + (tonumber(c[4]) or 0)
  if ended >= tonumber(c[1]) then
    redis.call('ZADD', KEYS[base + 1], now, batch)
  end
end
