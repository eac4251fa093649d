-- Shared prelude (prepended to the job scripts by lua.py): token-bucket arithmetic, the twin
-- of broker/admission/buckets.py. A bucket is a hash {l = level, t = last update ms}; a
-- missing bucket is full. Buckets expire once they would have refilled completely.

local function bucket_level(key, cap, rate, now)
  local s = redis.call('HMGET', key, 'l', 't')
  if not s[1] then
    return cap
  end
  local elapsed = now - tonumber(s[2])
  if elapsed < 0 then elapsed = 0 end
  local level = tonumber(s[1]) + elapsed * rate
  if level > cap then level = cap end
  return level
end

-- Numbers are written with 17 significant digits so a level survives the round trip
-- through a Redis string exactly (Lua's default keeps 14).
local function exact(x)
  return string.format('%.17g', x)
end

local function bucket_store(key, level, cap, rate, now)
  redis.call('HSET', key, 'l', exact(level), 't', exact(now))
  local full_in = math.ceil((cap - level) / rate) + 1000
  redis.call('PEXPIRE', key, full_in)
end

-- Give back (delta > 0) or charge (delta < 0) tokens; never above capacity.
local function bucket_adjust(key, cap, rate, delta, now)
  local level = bucket_level(key, cap, rate, now) + delta
  if level > cap then level = cap end
  bucket_store(key, level, cap, rate, now)
end

-- True when KEYS[first ..] name the reservation's buckets (a caller read the job before
-- a concurrent transition changed its reservation otherwise).
local function reservation_matches(reservation, first)
  if not reservation or reservation == '' then
    return true
  end
  for i, e in ipairs(cjson.decode(reservation)) do
    if KEYS[first + i - 1] ~= e.k then
      return false
    end
  end
  return true
end

-- Settle a job's reservation (JSON list of {k, c, r, n, a}) whose bucket keys are
-- KEYS[first .. first + #entries - 1], in order. used_in / used_out are the real usage;
-- nil means "release everything". A request made (axis 'req') is not given back.
local function settle_reservation(reservation, first, used_in, used_out, now)
  if not reservation or reservation == '' then
    return
  end
  local entries = cjson.decode(reservation)
  for i, e in ipairs(entries) do
    local n = tonumber(e.n)
    local delta = n
    if used_in ~= nil then
      if e.a == 'in' then
        delta = n - used_in
      elseif e.a == 'out' then
        delta = n - used_out
      else
        delta = 0
      end
    end
    if delta ~= 0 then
      bucket_adjust(KEYS[first + i - 1], tonumber(e.c), tonumber(e.r), delta, now)
    end
  end
end
