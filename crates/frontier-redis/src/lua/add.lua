-- add: queue a batch of URLs of one shard if unseen.
-- KEYS[1] the shard's stats hash (the other keys share its hash tag).
-- ARGV: key prefix, max URLs per host (-1: none), per-host concurrency,
-- then per URL: seen bucket, fingerprint, host, queue item.
-- Returns one code per URL: 0 queued, 1 seen, 2 host budget spent.
local kp = ARGV[1]
local max_host = tonumber(ARGV[2])
local conc = tonumber(ARGV[3])
local out = {}
local created = 0
for i = 4, #ARGV, 4 do
  local seen = kp .. 'seen:' .. ARGV[i]
  local fp, host, item = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local h = kp .. 'h:' .. host
  if redis.call('SISMEMBER', seen, fp) == 1 then
    out[#out + 1] = 1
  elseif max_host >= 0 and tonumber(redis.call('HGET', h, 'n') or '0') >= max_host then
    out[#out + 1] = 2
  else
    redis.call('SADD', seen, fp)
    if redis.call('HINCRBY', h, 'n', 1) == 1 then
      redis.call('HINCRBY', KEYS[1], 'hosts', 1)
    end
    redis.call('RPUSH', kp .. 'q:' .. host, item)
    if tonumber(redis.call('HGET', h, 'infl') or '0') < conc then
      redis.call('ZADD', kp .. 'ready', 'NX', tonumber(redis.call('HGET', h, 'next') or '0'), host)
    end
    created = created + 1
    out[#out + 1] = 0
  end
end
if created > 0 then
  redis.call('HINCRBY', KEYS[1], 'created', created)
  redis.call('HINCRBY', KEYS[1], 'queued', created)
end
return out
