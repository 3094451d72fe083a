-- wrk's report adds the far tail: the 99.9th percentile and the largest latency, in microseconds
-- (read by bench/wrk.py; wrk's own --latency report stops at the 99th).
done = function(summary, latency, requests)
    io.write(string.format("tail p99.9 %d us, max %d us\n", latency:percentile(99.9), latency.max))
end
