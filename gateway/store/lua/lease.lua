-- Leader lease for RedisStore.lease: KEYS[1] is taken for ARGV[1] (the owner) when absent, its TTL
-- (ARGV[2] milliseconds) renewed when ARGV[1] already holds it; 1 = held by the caller, 0 = by another.
local current = redis.call('GET', KEYS[1])
if current == false then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
if current == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0
