-- claim: lease up to n URLs of ready hosts of one shard.
-- KEYS[1] the shard's stats hash. ARGV: key prefix, now (ms), lease
-- expiry (ms or +inf), n, budget of fresh URLs (-1: no limit), per-host
-- concurrency, default gap (ms), probe (ms, 0 for none).
-- A host whose gap no worker has reported yet (no robots.txt read, no
-- response timed) gets, with a probe, one request and then rests for the
-- probe time or until its gap is reported, whichever is first: a
-- Crawl-delay then holds from the host's second request on, over all
-- workers.
-- A host is in `ready` iff it has queued URLs and a free slot; its score
-- is the earliest time (ms) its next request may start, for every worker.
-- Re-queued URLs (prefix 'r') were counted when first handed out and do
-- not spend the budget.
-- Returns {leases, fresh, earliest ready host, its score, queued}.
local kp = ARGV[1]
local now = tonumber(ARGV[2])
local expiry = ARGV[3]
local n = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local conc = tonumber(ARGV[6])
local default_gap = tonumber(ARGV[7])
local probe = tonumber(ARGV[8])
local ready = kp .. 'ready'
local out = {}
local fresh = 0
local owed = 0
local stop = false
local hosts = redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, n)
for _, host in ipairs(hosts) do
  local h = kp .. 'h:' .. host
  local q = kp .. 'q:' .. host
  local infl = tonumber(redis.call('HGET', h, 'infl') or '0')
  local known = redis.call('HGET', h, 'gap')
  local gap = tonumber(known or default_gap)
  local probing = (not known) and probe > 0
  if probing then gap = probe end
  local took = 0
  while #out < n and infl < conc do
    local item = redis.call('LPOP', q)
    if not item then break end
    if string.byte(item, 1) == 102 then
      if budget >= 0 and fresh >= budget then
        redis.call('LPUSH', q, item)
        stop = true
        break
      end
      fresh = fresh + 1
    else
      owed = owed + 1
    end
    infl = infl + 1
    local id = redis.call('HINCRBY', KEYS[1], 'token', 1)
    local member = id .. '\t' .. host .. '\t' .. item
    redis.call('ZADD', kp .. 'leases', expiry, member)
    out[#out + 1] = member
    took = took + 1
    -- A host with a gap gets one request per gap, over all workers.
    if gap > 0 or probing then break end
  end
  if took > 0 then
    redis.call('HSET', h, 'infl', infl, 'next', now + gap, 'last', now)
    redis.call('HINCRBY', KEYS[1], 'queued', -took)
  end
  if infl >= conc or redis.call('LLEN', q) == 0 then
    redis.call('ZREM', ready, host)
  elseif took > 0 then
    redis.call('ZADD', ready, now + gap, host)
  end
  if stop or #out >= n then break end
end
if owed > 0 then redis.call('HINCRBY', KEYS[1], 'owed', -owed) end
local first = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
local queued = redis.call('HGET', KEYS[1], 'queued') or '0'
return {out, fresh, first[1] or '', first[2] or '-1', queued}
