-- Compare-and-delete for RedisStore.release: KEYS[1] is deleted only while it still holds ARGV[1], in
-- one step, so a reservation someone else took in the meantime is never freed. 1 = deleted, 0 = not.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
