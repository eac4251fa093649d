-- Record one call outcome on a provider model's health: the twin of broker/health/breaker.py
-- (on_success, on_failure, on_rate_limited). Atomic, so every worker's outcomes add up.
-- KEYS[1] the model's health hash
-- ARGV[1] event: ok | fail | rate_limited   ARGV[2] now ms ('' = Redis TIME)
-- ARGV[3] latency ms (ok) or retry-after ms (rate_limited)
-- ARGV[4] failure threshold   ARGV[5] open ms   ARGV[6] max open ms   ARGV[7] EWMA alpha
-- Returns the updated record as a flat field/value array.
local now = now_ms(ARGV[2])
local function exact(x) return string.format('%.17g', x) end
local r = redis.call('HMGET', KEYS[1], 'failures', 'opened_at_ms', 'open_ms', 'probe_until_ms',
  'cooldown_until_ms', 'ewma_ms')
local failures = tonumber(r[1]) or 0
local opened_at = tonumber(r[2]) or 0
local open_ms = tonumber(r[3]) or 0
local cooldown = tonumber(r[5]) or 0
local event = ARGV[1]
if event == 'ok' then
  local sample = tonumber(ARGV[3])
  local avg = sample
  if r[6] then
    local alpha = tonumber(ARGV[7])
    avg = alpha * sample + (1 - alpha) * tonumber(r[6])
  end
  redis.call('HSET', KEYS[1], 'failures', 0, 'opened_at_ms', 0, 'open_ms', 0, 'probe_until_ms', 0,
    'ewma_ms', exact(avg), 'sampled_at_ms', exact(now))
elseif event == 'fail' then
  failures = failures + 1
  local state = 'closed'
  if opened_at ~= 0 then
    if now < opened_at + open_ms then state = 'open' else state = 'half_open' end
  end
  if state == 'half_open' then
    local period = math.min(2 * open_ms, tonumber(ARGV[6]))
    redis.call('HSET', KEYS[1], 'failures', failures, 'opened_at_ms', exact(now), 'open_ms', exact(period),
      'probe_until_ms', 0)
  elseif state == 'closed' and failures >= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[1], 'failures', failures, 'opened_at_ms', exact(now), 'open_ms', ARGV[5],
      'probe_until_ms', 0)
  else
    redis.call('HSET', KEYS[1], 'failures', failures)
  end
elseif event == 'rate_limited' then
  local until_ms = now + tonumber(ARGV[3])
  if cooldown > until_ms then until_ms = cooldown end
  redis.call('HSET', KEYS[1], 'cooldown_until_ms', exact(until_ms), 'probe_until_ms', 0)
else
  return redis.error_reply('unknown health event ' .. event)
end
return redis.call('HGETALL', KEYS[1])
