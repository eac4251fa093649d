-- Fire a budget alert once: remember that this threshold of this budget fired this period,
-- queue the alert for delivery and show it on the dashboard, all or nothing.
-- KEYS[1] fired flag (string)   KEYS[2] alert stream   KEYS[3] recent alerts (list)
-- ARGV[1] alert JSON   ARGV[2] seconds to remember the flag   ARGV[3] most recent alerts kept
-- Returns 1 when this call fired the alert, 0 when it had fired already.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', 'alert', ARGV[1])
redis.call('LPUSH', KEYS[3], ARGV[1])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
return 1
