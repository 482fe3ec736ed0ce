-- reap: leases past their deadline go back to the front of their host's
-- queue (their holder died or stalled), marked re-queued.
-- KEYS[1] the shard's stats hash. ARGV: key prefix, now (ms), at most
-- this many, per-host concurrency.
-- Returns the members taken back.
local kp = ARGV[1]
local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local conc = tonumber(ARGV[4])
local leases = kp .. 'leases'
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, limit)
for _, member in ipairs(expired) do
  redis.call('ZREM', leases, member)
  local a = string.find(member, '\t', 1, true)
  local b = string.find(member, '\t', a + 1, true)
  local host = string.sub(member, a + 1, b - 1)
  local item = 'r' .. string.sub(member, b + 2)
  local h = kp .. 'h:' .. host
  local q = kp .. 'q:' .. host
  redis.call('LPUSH', q, item)
  local infl
  if redis.call('SREM', kp .. 'released', member) == 1 then
    -- Released before its holder vanished: its slot is already free.
    infl = tonumber(redis.call('HGET', h, 'infl') or '0')
  else
    infl = redis.call('HINCRBY', h, 'infl', -1)
  end
  if infl < conc then
    redis.call('ZADD', kp .. 'ready', 'NX', tonumber(redis.call('HGET', h, 'next') or '0'), host)
  end
end
if #expired > 0 then
  redis.call('HINCRBY', KEYS[1], 'queued', #expired)
  redis.call('HINCRBY', KEYS[1], 'owed', #expired)
end
return expired
