-- Prepended to every script by lua.py: the one clock. Milliseconds from Redis's TIME, so
-- every process that calls a script agrees on now; tests and twins pass their own.

local function now_ms(override)
  if override and override ~= '' then
    return tonumber(override)
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
