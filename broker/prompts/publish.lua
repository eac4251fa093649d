-- Publish a template version: allocate the next number and store the version under it.
-- Versions are never rewritten: HSETNX, and numbers only grow.
-- KEYS[1] template meta hash   KEYS[2] versions hash   KEYS[3] the owning team's set of names
-- ARGV[1] template name   ARGV[2] version JSON without its number (the number is the field)
-- Returns the new version number.
local n = redis.call('HINCRBY', KEYS[1], 'latest', 1)
if n == 1 then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'created_at', tonumber(t[1]) + tonumber(t[2]) / 1000000)
end
redis.call('HSETNX', KEYS[2], n, ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return n
