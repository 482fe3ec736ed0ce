-- ack: finish leases and apply what workers learnt about hosts' pacing.
-- KEYS[1] the shard's stats hash. ARGV: key prefix, per-host concurrency,
-- default gap (ms), number of acks k, then k lease members with a mode each ('d' done,
-- 'u' given back unfetched, to the front of its queue, with the time (ms)
-- the host may be asked again), then pace updates: host, gap (ms), pause
-- until (ms, 0 for none).
-- A member no longer in `leases` (reaped, then maybe handed out again)
-- is a late ack from a fenced-off worker: ignored.
-- Returns how many acks were current.
local kp = ARGV[1]
local conc = tonumber(ARGV[2])
local default_gap = tonumber(ARGV[3])
local k = tonumber(ARGV[4])
local ready = kp .. 'ready'
local current = 0
local finished = 0
local i = 5
for _ = 1, k do
  local member, mode, at = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  local live
  if mode == 'l' then
    live = redis.call('ZSCORE', kp .. 'leases', member)
      and redis.call('SADD', kp .. 'released', member) == 1
  else
    live = redis.call('ZREM', kp .. 'leases', member) == 1
  end
  if live then
    current = current + 1
    local a = string.find(member, '\t', 1, true)
    local b = string.find(member, '\t', a + 1, true)
    local host = string.sub(member, a + 1, b - 1)
    local h = kp .. 'h:' .. host
    local q = kp .. 'q:' .. host
    local infl
    if mode ~= 'l' and redis.call('SREM', kp .. 'released', member) == 1 then
      -- Its slot was freed when it was released.
      infl = tonumber(redis.call('HGET', h, 'infl') or '0')
    else
      infl = redis.call('HINCRBY', h, 'infl', -1)
    end
    if mode == 'u' then
      local item = string.sub(member, b + 1)
      redis.call('LPUSH', q, item)
      redis.call('HINCRBY', KEYS[1], 'queued', 1)
      if string.byte(item, 1) ~= 102 then redis.call('HINCRBY', KEYS[1], 'owed', 1) end
      -- No request went out: the host's clock goes back to what the
      -- gate said, not one gap past the refused claim.
      local gap = tonumber(redis.call('HGET', h, 'gap') or default_gap)
      redis.call('HSET', h, 'next', at, 'last', at - gap)
    else
      if mode == 'd' then finished = finished + 1 end
      -- A probe that came back without a pace report (the fetch failed
      -- before any response): the host goes on at the default gap.
      if redis.call('HEXISTS', h, 'gap') == 0 then
        redis.call('HSET', h, 'gap', default_gap)
        redis.call('HSET', h, 'next', tonumber(redis.call('HGET', h, 'last') or '0') + default_gap)
      end
    end
    if infl < conc and redis.call('LLEN', q) > 0 then
      local nxt = tonumber(redis.call('HGET', h, 'next') or '0')
      redis.call('ZADD', ready, nxt, host)
    end
  end
end
while i <= #ARGV do
  local host, gap, pause = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  local h = kp .. 'h:' .. host
  local first = redis.call('HEXISTS', h, 'gap') == 0
  redis.call('HSET', h, 'gap', gap)
  local nxt = tonumber(redis.call('HGET', h, 'next') or '0')
  local want = math.max(tonumber(redis.call('HGET', h, 'last') or '0') + gap, pause)
  if first then
    -- The first report ends a probe's rest, early or late.
    redis.call('HSET', h, 'next', want)
    redis.call('ZADD', ready, 'XX', want, host)
  elseif want > nxt then
    redis.call('HSET', h, 'next', want)
    redis.call('ZADD', ready, 'XX', 'GT', want, host)
  end
end
if finished > 0 then redis.call('HINCRBY', KEYS[1], 'finished', finished) end
return current
