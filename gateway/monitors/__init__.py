"""Background event sources that no request fires: the quota trigger monitor (quota), the uptime host
checker (uptime) and its one check (probe).

They fire through the bus and share state through the store; they never sit on the request path.
"""
