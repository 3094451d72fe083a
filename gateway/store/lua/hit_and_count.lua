-- A key's rate limit and quota in one round trip (RedisStore.hit_and_count; Tyk's RateLimitAndQuotaCheck).
-- KEYS[1] the moving window (the `limits` library's list, so its other calls see the same entries),
-- KEYS[2] the quota counter. ARGV: now (seconds), limit, window (seconds), quota period (ms).
-- The window step is limits' acquire_moving_window; a blocked request records nothing and is not
-- counted against the quota. An admitted one takes incr_window.lua's step. Returns {1|0, count, ms}.
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local oldest = redis.call('LINDEX', KEYS[1], limit - 1)
if oldest and tonumber(oldest) >= now - window then
    return {0, 0, 0}
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('EXPIRE', KEYS[1], window)
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then
    return {1, redis.call('INCR', KEYS[2]), ttl}
end
local period = tonumber(ARGV[4])
if period <= 0 then
    return {1, redis.call('INCR', KEYS[2]), 0}
end
redis.call('SET', KEYS[2], 1, 'PX', period)
return {1, 1, period}
