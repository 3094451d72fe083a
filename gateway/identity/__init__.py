"""Who a request is: Tyk's session object and the session store (sessions), a key's limit blocks
(limits), the in-process session cache on Redis (cache), and Tyk's key formats and hashes (keyhash).

It reaches the store only through the Store protocol and knows nothing of requests or events.
"""
