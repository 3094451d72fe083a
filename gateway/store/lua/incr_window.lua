-- Atomic quota counter for RedisStore.incr_window (Tyk's RedisQuotaExceeded in one step).
-- KEYS[1] the counter, ARGV[1] the period in milliseconds (<= 0: the counter never resets).
-- A counter with a TTL is in its period: INCR. Without a TTL (or missing) and no period: INCR, no
-- expiry. Otherwise a new period starts: 1, expiring after the period. Returns {count, ms to reset}.
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
    return {redis.call('INCR', KEYS[1]), ttl}
end
local period = tonumber(ARGV[1])
if period <= 0 then
    return {redis.call('INCR', KEYS[1]), 0}
end
redis.call('SET', KEYS[1], 1, 'PX', period)
return {1, period}
