-- sesbolt redisstore: drop index entries of records Redis has expired.
--
-- KEYS[1] is a sorted set scored by retain (unix ms: when Redis expires the
-- record or user the member stands for); the other KEYS are sorted sets
-- holding the same members. Up to ARGV[1] members whose retain has passed
-- are removed from all of them. Returns how many.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(gone) do
  for _, k in ipairs(KEYS) do
    redis.call('ZREM', k, m)
  end
end
return #gone
