-- May a job be sent to this model now? The twin of breaker.claim_probe: yes when the circuit
-- is closed, no while it is open, and in half-open to one caller at a time (the slot is held
-- ARGV[2] ms, or until record.lua records the probe's outcome).
-- KEYS[1] the model's health hash
-- ARGV[1] now ms ('' = Redis TIME)   ARGV[2] probe slot ms
-- Returns 1 (go) or 0 (skip the model).
local now = now_ms(ARGV[1])
local r = redis.call('HMGET', KEYS[1], 'opened_at_ms', 'open_ms', 'probe_until_ms')
local opened_at = tonumber(r[1]) or 0
if opened_at == 0 then
  return 1
end
if now < opened_at + (tonumber(r[2]) or 0) or (tonumber(r[3]) or 0) > now then
  return 0
end
redis.call('HSET', KEYS[1], 'probe_until_ms', string.format('%.17g', now + tonumber(ARGV[2])))
return 1
