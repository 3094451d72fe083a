-- Atomic counter for RedisStore.incr: INCR KEYS[1], and give it a TTL of ARGV[1] milliseconds only
-- when this call created the key (0 = no TTL). One script, so no other client can see the key
-- without its TTL, and a later increment never extends the window.
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCR', KEYS[1])
local ttl = tonumber(ARGV[1])
if created and ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
end
return value
