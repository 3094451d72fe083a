"""The server floor's app (bench/floor.py): one fixed 220-byte JSON answer with four headers, as ASGI
(`asgi`) and as granian's RSGI (`rsgi`), so that what is measured is the HTTP server and nothing else.
`python bench/anchors/fixed.py PORT uvicorn|listener` serves `asgi` under uvicorn with its own httptools
protocol or with the gateway's listener protocol (app/listener.py, app/cycle.py)."""

import sys

BODY = b'{"ok":true}' * 20
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"x-a", b"1"),
    (b"x-b", b"2"),
]
RSGI_HEADERS = [(k.decode(), v.decode()) for k, v in HEADERS if k != b"content-length"]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def rsgi(scope, proto):
    proto.response_bytes(200, RSGI_HEADERS, BODY)


if __name__ == "__main__":
    import uvicorn

    from gateway.app import listener
    from gateway.config.server import HttpServerOptions

    protocol = listener.protocol(HttpServerOptions()) if sys.argv[2] == "listener" else "httptools"
    config = uvicorn.Config(
        asgi,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http=protocol,
        access_log=False,
        server_header=False,
        date_header=False,
        log_config=None,
        backlog=4096,
    )
    uvicorn.Server(config).run()
