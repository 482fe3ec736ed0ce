-- budget: take up to ARGV[2] of the crawl's page budget ARGV[1] (the
-- counter KEYS[1] counts URLs handed out so far, over all workers); a
-- negative ARGV[2] gives that many back. Returns what was taken.
local max = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
if want < 0 then
  redis.call('INCRBY', KEYS[1], want)
  return 0
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local give = math.min(want, max - used)
if give <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], give)
return give
