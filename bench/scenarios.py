"""What the benchmark measures: the anchors (nginx proxying to the upstream, the raw ASGI + aiohttp proxy,
the naive Starlette + httpx proxy) and the gateway scenarios, each as a Target with the command that
starts it, where to load it, and any setup once it is up (keys made through the REST API).

S1 keyless pass-through; S2 auth token + key rate limit + quota on the embedded store, S2r the same on
Redis (a redis-server of its own, pinned with the upstream); S3 a flood every request of which is rate
limited, each firing RatelimitExceeded to a webhook with a cooldown; S4 is S1 with one connection
(latency); S5 S2r served by two worker processes, unpinned; S6 1,000 APIs and 10,000 keys.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UPSTREAM = "http://127.0.0.1:18000"
HOOK_COOLDOWN = 3600  # seconds (S3): the identical events of the whole run make exactly one webhook
SECRET = "bench-secret"  # the benchmark gateway's admin secret: loopback only, thrown away after the run
UVICORN = [
    "-m",
    "uvicorn",
    "--host",
    "127.0.0.1",
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
    "--no-server-header",
    "--no-date-header",
    "--backlog",
    "4096",
]


@dataclass
class Target:
    name: str
    port: int
    argv: list[str]  # empty: served by a process another target started
    path: str = "/bench/get"
    ready_path: str = "/"
    conns: int | None = None  # None: the run's -c
    headers: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Target], None] | None = None
    refused: bool = False  # every answer should be a refusal (S3): a 2xx counts as the error
    pinned: bool = True  # False: the server may use every CPU (S5's two workers)
    report: Callable[[Target, Path], str] | None = None  # a line printed under the table
    runs: list[dict[str, float]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def anchors(nginx_dir: Path, run_dir: Path) -> list[Target]:
    python = sys.executable
    return [
        Target("nginx-proxy", 18001, nginx_argv(nginx_dir / "proxy.conf", run_dir), ready_path="/bench/get"),
        Target("nginx-proxy, 1 conn", 18001, [], conns=1),
        Target("raw-aiohttp", 18013, [python, *UVICORN, "--port", "18013", "bench.anchors.raw_aiohttp:app"]),
        Target(
            "starlette-httpx",
            18010,
            [python, *UVICORN, "--port", "18010", "bench.anchors.starlette_httpx:app"],
        ),
    ]


def nginx_argv(conf: Path, run_dir: Path) -> list[str]:
    return ["nginx", "-p", f"{run_dir}/", "-e", f"{run_dir}/nginx.err", "-c", str(conf), "-g", "daemon off;"]


def gateway(
    name: str,
    port: int,
    run_dir: Path,
    apis: list[dict[str, Any]],
    storage: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> list[str]:
    """Write a tyk.conf and the API definitions for one gateway scenario; the command that serves it."""
    folder = run_dir / name
    (folder / "apps").mkdir(parents=True, exist_ok=True)
    for api in apis:
        (folder / "apps" / f"{api['api_id']}.json").write_text(json.dumps(api))
    conf = {
        "listen_address": "127.0.0.1",
        "listen_port": port,
        "secret": SECRET,
        "app_path": "apps",
        "storage": storage,
        "log_level": "warn",
        "uptime_tests": {"disable": True},
        **(extra or {}),
    }
    (folder / "tyk.conf").write_text(json.dumps(conf))
    return [sys.executable, "-m", "gateway", "--conf", str(folder / "tyk.conf")]


def api(api_id: str, keyed: bool) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "org_id": "bench",
        "name": api_id,
        "use_keyless": not keyed,
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "proxy": {"listen_path": f"/{api_id}/", "target_url": UPSTREAM, "strip_listen_path": True},
    }


def make_key(target: Target) -> None:
    """S2's key: rate and quota high enough never to refuse, so every request is checked and counted."""
    target.headers["Authorization"] = post_key(target.port, "keyed")


def post_key(
    port: int,
    api_id: str,
    connection: http.client.HTTPConnection | None = None,
    rate: float = 1_000_000_000,
    per: float = 1,
) -> str:
    session = {
        "org_id": "bench",
        "rate": rate,
        "per": per,
        "quota_max": 1_000_000_000_000,
        "quota_renewal_rate": 3600,
        "access_rights": {api_id: {"api_id": api_id, "api_name": api_id, "versions": ["Default"]}},
    }
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/tyk/keys", body=json.dumps(session), headers={"x-tyk-authorization": SECRET})
    key: str = json.loads(conn.getresponse().read())["key"]
    if connection is None:
        conn.close()
    return key


def flood_key(target: Target) -> None:
    """S3's key: one request an hour, spent here, so every measured request is refused."""
    key = target.headers["Authorization"] = post_key(target.port, "flood", rate=1, per=3600)
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
    conn.request("GET", target.path, headers={"Authorization": key})
    conn.getresponse().read()
    conn.close()


def flood_api() -> dict[str, Any]:
    """A keyed API whose RatelimitExceeded goes to a webhook with a cooldown longer than the run."""
    spec = api("flood", keyed=True)
    meta = {"method": "POST", "target_path": UPSTREAM + "/hook", "event_timeout": HOOK_COOLDOWN}
    hook = {"handler_name": "eh_web_hook_handler", "handler_meta": meta}
    spec["event_handlers"] = {"events": {"RatelimitExceeded": [hook]}}
    return spec


def scaling_report(two: Target, one: Target) -> str:
    """S5 against S2r (one pinned worker) in the same rounds."""
    ratios = [b["rps"] / a["rps"] for a, b in zip(one.runs, two.runs, strict=True) if a["rps"]]
    shown = f"{statistics.median(ratios):.2f}x" if ratios else "-"
    return (
        f"S5 scaling: two unpinned workers served {shown} the requests per second of S2r's one pinned worker"
    )


def cost_report(on: Target, off: Target) -> str:
    """A feature's cost: the rps with it on over the same scenario's with it off, same rounds."""
    if len(off.runs) != len(on.runs):  # --only left the twin out
        return f"{on.name}: {off.name} was not run"
    ratios = [a["rps"] / b["rps"] for a, b in zip(on.runs, off.runs, strict=True) if b["rps"]]
    shown = f"{statistics.median(ratios):.2f}x" if ratios else "-"
    spread = f" (rounds {min(ratios):.2f}-{max(ratios):.2f})" if ratios else ""
    return f"{on.name}: {shown} the requests per second of {off.name}{spread}"


def event_report(target: Target, run_dir: Path) -> str:
    """S3's events: the gateway's counts (once its queue is drained) and the receiver's own count."""
    deadline = time.monotonic() + 30
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
        conn.request("GET", "/tyk/events/stats", headers={"x-tyk-authorization": SECRET})
        stats = json.loads(conn.getresponse().read())
        conn.close()
        hooked = stats["webhooks"]
        settled = hooked["delivered"] + hooked["given_up"] + hooked["gone"] >= min(1, stats["fired"])
        drained = stats["handled"] + stats["failed"] >= stats["fired"]
        if (drained and settled) or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # bounded poll while the bus works through its queue
    hooks = run_dir / "hooks.log"
    received = len(hooks.read_text().splitlines()) if hooks.exists() else 0
    return (
        f"S3 events (warm-ups included): fired {stats['fired']:,}, handled {stats['handled']:,}, "
        f"deduplicated {hooked['deduplicated']:,}, webhooks delivered {hooked['delivered']} "
        f"(receiver counted {received}), dropped {stats['dropped']}, failed {stats['failed']}; "
        f"cooldown {HOOK_COOLDOWN} s"
    )


def many_keys(count: int) -> Callable[[Target], None]:
    """S6: `count` keys on the keyed APIs (one REST connection), the last one used for the load."""

    def setup(target: Target) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
        key = ""
        for i in range(count):
            key = post_key(target.port, f"keyed{i % S6_KEYED}", conn)
        conn.close()
        target.headers["Authorization"] = key
        target.path = f"/keyed{(count - 1) % S6_KEYED}/get"

    return setup


REDIS_PORT = 18030


def redis_argv(run_dir: Path) -> list[str]:
    """The Redis S2r shares with nothing else: loopback, no persistence, in the run folder."""
    return [
        "redis-server", "--bind", "127.0.0.1", "--port", str(REDIS_PORT),
        "--save", "", "--appendonly", "no", "--dir", str(run_dir),
    ]  # fmt: skip


S6_APIS, S6_KEYED = 1000, 500  # half of the thousand APIs keyed


def gateway_targets(run_dir: Path, keys: int = 10_000) -> list[Target]:
    embedded = {"type": "embedded", "path": "data"}
    redis = {"type": "redis", "host": "127.0.0.1", "port": REDIS_PORT}
    s1 = gateway("S1", 18020, run_dir, [api("bench", keyed=False)], embedded)
    s2 = gateway("S2", 18021, run_dir, [api("keyed", keyed=True)], embedded)
    s2r = gateway("S2r", 18023, run_dir, [api("keyed", keyed=True)], redis)
    s3 = gateway("S3", 18025, run_dir, [flood_api()], embedded)
    s5 = [*gateway("S5", 18026, run_dir, [api("keyed", keyed=True)], redis), "--workers", "2"]
    many = [api(f"keyed{i}", keyed=True) for i in range(S6_KEYED)]
    many += [api(f"open{i}", keyed=False) for i in range(S6_APIS - S6_KEYED)]
    s6 = gateway("S6", 18024, run_dir, many, embedded)
    one_worker = Target(
        "S2r the same on Redis", 18023, s2r, path="/keyed/get", ready_path="/hello", setup=make_key
    )
    return [
        Target("S1 keyless", 18020, s1, ready_path="/hello"),
        Target("S2 auth+rate+quota", 18021, s2, path="/keyed/get", ready_path="/hello", setup=make_key),
        one_worker,
        Target(
            "S3 rate-limited flood + webhook",
            18025,
            s3,
            path="/flood/get",
            ready_path="/hello",
            setup=flood_key,
            refused=True,
            report=event_report,
        ),
        Target(
            "S4 keyless, 1 conn",
            18022,
            gateway("S4", 18022, run_dir, [api("bench", keyed=False)], embedded),
            ready_path="/hello",
            conns=1,
        ),
        Target(
            "S5 S2r, 2 workers, unpinned",
            18026,
            s5,
            path="/keyed/get",
            ready_path="/hello",
            setup=make_key,
            pinned=False,
            report=lambda target, _run_dir: scaling_report(target, one_worker),
        ),
        Target(
            "S6 keyless, 1,000 APIs",
            18024,
            s6,
            path=f"/open{S6_APIS - S6_KEYED - 1}/get",
            ready_path="/hello",
        ),
        Target(f"S6 keyed, {keys:,} keys", 18024, [], setup=many_keys(keys)),
    ]


# --traces: S1 and S2 with tyk.conf `opentelemetry` on, exporting OTLP/HTTP to a port nobody listens on
# (a collector that is down: every span is made and queued, every export fails on the export thread).
TRACES_DOWN_PORT = 18029
TRACES = {"opentelemetry": {"enabled": True, "exporter": "http", "endpoint": f"127.0.0.1:{TRACES_DOWN_PORT}"}}
# --metrics: S1 and S2 with tyk.conf `metrics` on (nothing scrapes: the cost is the requests' own).
METRICS = {"metrics": {"enabled": True}}


def twins(
    run_dir: Path, plain: list[Target], label: str, extra: dict[str, Any], ports: tuple[int, int]
) -> list[Target]:
    """S1 and S2 with a feature on (`extra` in tyk.conf), each reporting its rps over its twin's with the
    feature off, in the same rounds."""
    embedded = {"type": "embedded", "path": "data"}
    s1, s2 = plain[0], plain[1]
    s1on = gateway(f"S1-{label}", ports[0], run_dir, [api("bench", keyed=False)], embedded, extra)
    s2on = gateway(f"S2-{label}", ports[1], run_dir, [api("keyed", keyed=True)], embedded, extra)
    return [
        Target(
            f"S1 keyless, {label} on",
            ports[0],
            s1on,
            ready_path="/hello",
            report=lambda target, _run_dir: cost_report(target, s1),
        ),
        Target(
            f"S2 auth+rate+quota, {label} on",
            ports[1],
            s2on,
            path="/keyed/get",
            ready_path="/hello",
            setup=make_key,
            report=lambda target, _run_dir: cost_report(target, s2),
        ),
    ]


# --retention: S3 with `events.retention` 0 (no delivery log, bodies or events kept), against S3 itself:
# what keeping its flood of refusals' events for replay costs the request path.
UNKEPT = {"events": {"retention": 0}}


def unkept_targets(run_dir: Path, plain: list[Target]) -> list[Target]:
    s3 = next(t for t in plain if t.name.startswith("S3"))
    embedded = {"type": "embedded", "path": "data"}
    argv = gateway("S3-unkept", 18033, run_dir, [flood_api()], embedded, UNKEPT)
    name = "S3 rate-limited flood + webhook, retention 0"

    def report(target: Target, run_dir: Path) -> str:
        return cost_report(s3, target)  # S3 (events kept) over its twin keeping nothing

    return [
        Target(
            name,
            18033,
            argv,
            path="/flood/get",
            ready_path="/hello",
            setup=flood_key,
            refused=True,
            report=report,
        )
    ]


def traced_targets(run_dir: Path, plain: list[Target]) -> list[Target]:
    return twins(run_dir, plain, "traces", TRACES, (18027, 18028))


def metered_targets(run_dir: Path, plain: list[Target]) -> list[Target]:
    return twins(run_dir, plain, "metrics", METRICS, (18031, 18032))
