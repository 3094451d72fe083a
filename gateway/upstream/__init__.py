"""The call to the upstream: the Upstream seam with its URL and header rules and the aiohttp client
(proxy), the fast path for body-less plain-HTTP requests (fast, wire), and load balancing (balancer).

It knows nothing of APIs' middleware or events: routing hands it one request and gets the status back.
"""
