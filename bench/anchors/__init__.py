"""The Python anchors the gateway is compared with, in the same rounds: a raw ASGI proxy on aiohttp (the
best Python proxy measured) and a naive Starlette + httpx proxy. Throwaway servers, never the gateway."""
