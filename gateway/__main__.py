"""Command line: `python -m gateway --conf tyk.conf [--workers N]` serves in the foreground; `python -m
gateway demo` runs the README walkthrough with a local upstream and webhook receiver; `python -m gateway
check --conf tyk.conf` reports what starting would reject (gateway/app/check.py), serving nothing.

A bad config exits non-zero at once with one line naming the file and key. SIGTERM/SIGINT stop
gracefully (uvicorn lets in-flight requests finish; the gateway then drains queued events) and exit 0,
or 1 when webhooks could not be written to the outbox or its close failed (logged with the counts).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import socket
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from gateway import log as log_mod
from gateway.app import check as check_mod
from gateway.app import listener, workers
from gateway.app.gateway import Gateway
from gateway.config import model as config_mod
from gateway.errors import ConfigError


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, gateway: Gateway) -> None:
        super().__init__(config)
        self._gateway = gateway

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # What starting built (modules, the config, the APIs) lives as long as the process: frozen, the
        # collector never walks it again. Under load, objects of requests in flight outlive the young
        # collections and set off a full one about once a second, which over that heap held the loop for
        # 40-50 ms: S2r's p99 (bench/README.md, "The tail"). Now a full collection takes about 1 ms.
        gc.collect()
        gc.freeze()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn waits for open responses before the app's shutdown: the endless ones end now.
        self._gateway.stopping()
        # uvicorn re-raises a caught SIGTERM after its graceful shutdown, which would make the exit
        # status "killed by signal"; a requested, completed shutdown is a success: exit 0.
        self._captured_signals.clear()


def server_config(app: Gateway, host: str, port: int) -> uvicorn.Config:
    """uvicorn as the benchmarks measured it: uvloop, httptools, no access log, no added headers; the
    listener's limits (app/listener.py). With `use_ssl`, the gateway's own SSL context and the protocol
    that also reports client certificates."""
    secure = app.server_tls
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=listener.protocol(app.config.http_server_options, tls=secure is not None),
        ssl_context_factory=None if secure is None else (lambda _config, _default: secure.context),
        lifespan="on",
        access_log=False,
        server_header=False,
        date_header=False,
        log_config=None,
        backlog=4096,
        # uvicorn would otherwise trust X-Forwarded-For from loopback and rewrite the client address.
        proxy_headers=False,
        timeout_graceful_shutdown=30,
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line's grammar (the docs' tests parse every command they show with it)."""
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--conf", default=None, help="path to tyk.conf (default: ./tyk.conf)")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes sharing the listener (more than 1 needs Redis)"
    )
    parser.add_argument(
        "--accept-journal-loss",
        action="store_true",
        help="start although the embedded store's journal or outbox lost records (logged)",
    )
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="gateway + echo upstream + webhook receiver, the README walkthrough")
    demo.add_argument(
        "--conf", dest="demo_conf", default=None, help="tyk.conf for the demo (default: tyk.conf.example)"
    )
    demo.add_argument("--run", action="store_true", help="send the three requests, print the webhook, exit")
    check = sub.add_parser("check", help="validate tyk.conf and every API in app_path; serve nothing")
    check.add_argument(
        "--conf", dest="check_conf", default=None, help="path to tyk.conf (default: ./tyk.conf)"
    )
    init = sub.add_parser("init", help="write a starter folder: tyk.conf, apps/, templates/, middleware/")
    init.add_argument("folder", help="where to write it (absent or empty)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.command == "demo":
        from gateway.demo import run_demo

        return run_demo(args.demo_conf, walkthrough=args.run)
    if args.command == "init":
        return init_folder(args.folder)
    if args.command == "check":
        return check_mod.run(args.check_conf or args.conf)
    try:
        cfg = check_mod.load_conf(args.conf)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.accept_journal_loss:
        cfg = dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage, accept_journal_loss=True))
    log_mod.setup(cfg.log_level, cfg.log_format)
    try:
        workers.check(cfg, args.workers)
        if args.workers == 1:
            return serve(cfg, None)
        Gateway(cfg)  # a bad config fails here, once, before any worker starts
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return workers.run(cfg, args.workers, serve)


def init_folder(folder: str) -> int:
    from gateway.starter import write_starter

    try:
        written = write_starter(Path(folder))
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {folder}/: " + ", ".join(str(p) for p in written))
    print(f"next: python -m gateway --conf {Path(folder) / 'tyk.conf'}")
    return 0


def serve(cfg: config_mod.Config, sock: socket.socket | None) -> int:
    """One gateway process in the foreground, on its own listener or on a socket a parent bound."""
    try:
        gateway = Gateway(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = _Server(server_config(gateway, cfg.listen_address or "0.0.0.0", cfg.listen_port), gateway)
    server.run(sockets=None if sock is None else [sock])
    # uvicorn reports a failed startup by leaving `started` unset; a stop that left webhooks unwritten
    # (a full disk, Redis down) is a failure too, so a supervisor sees it.
    return 0 if server.started and gateway.stopped_clean else 1


if __name__ == "__main__":
    sys.exit(main())
