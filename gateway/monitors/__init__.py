"""Background event sources that no request fires: the quota trigger monitor (quota), the uptime host
checker (uptime) and its one check (probe), the key expiry scan (expiring_keys).

They fire through the bus and share state through the store; they never sit on the request path.
"""
