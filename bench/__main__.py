"""`python -m bench`: start the upstream, the anchors and the gateway scenarios on 127.0.0.1, measure them
with wrk in interleaved rounds (servers pinned to one CPU, wrk and the upstream to the other), stop every
process it started by its PID, and print the table. `--smoke` is one 1-second round, for the test suite.

Ratios are taken per round against the anchors measured in that same round, then the median is shown.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import wrk
from bench.procs import Procs, group_cpu_seconds, group_peak_rss_mb, port_in_use, wait_port, wait_ready
from bench.scenarios import (
    REDIS_PORT,
    TRACES_DOWN_PORT,
    UPSTREAM,
    Target,
    anchors,
    gateway_targets,
    metered_targets,
    nginx_argv,
    redis_argv,
    traced_targets,
    unkept_targets,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOOLS = {"wrk": "wrk", "nginx": "nginx", "taskset": "util-linux", "redis-server": "redis-server"}


def ensure_tools() -> None:
    """wrk and nginx from Debian's packages when missing (as root); otherwise say what to install."""
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"bench: install {' '.join(missing)} first (Debian packages)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, timeout=600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("--smoke", action="store_true", help="one round of 1 s per target, no warm-up")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--json", type=Path, help="also write every run and the summary here")
    parser.add_argument(
        "--traces",
        action="store_true",
        help="also S1 and S2 with tyk.conf opentelemetry on (the collector down), each against its twin",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="also S1 and S2 with tyk.conf metrics on (nothing scraping), each against its twin",
    )
    parser.add_argument(
        "--retention",
        action="store_true",
        help="also S3 with tyk.conf events.retention 0 (nothing kept for replay), against S3",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="PREFIX",
        help="only the gateway targets whose names start so (e.g. S1 S2); the anchors always run",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.duration, args.warmup = 1, 1.0, 0.0
    ensure_tools()
    run_dir = HERE / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "tmp").mkdir(parents=True)
    procs = Procs(run_dir)
    atexit.register(procs.stop_all)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    server_cpu, client_cpu = ("1", "0") if args.pin and (os.cpu_count() or 1) > 1 else (None, None)

    def pinned(cmd: list[str], cpu: str | None) -> list[str]:
        return ["taskset", "-c", cpu, *cmd] if cpu is not None else cmd

    # The smoke run keeps S6's thousand APIs but makes fewer keys: 10,000 REST calls take a while.
    scenarios = gateway_targets(run_dir, 200 if args.smoke else 10_000)
    plain = list(scenarios)
    if args.traces:
        scenarios += traced_targets(run_dir, plain)
    if args.metrics:
        scenarios += metered_targets(run_dir, plain)
    if args.retention:
        scenarios += unkept_targets(run_dir, plain)
    if args.only:
        scenarios = [t for t in scenarios if t.name.startswith(tuple(args.only))]
    targets = [*anchors(HERE / "nginx", run_dir), *scenarios]
    for port in {18000, REDIS_PORT, TRACES_DOWN_PORT, *(t.port for t in targets)}:
        if port_in_use(port):
            sys.exit(f"bench: port {port} on 127.0.0.1 is in use; stop what holds it first")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "UPSTREAM_URL": UPSTREAM}
    upstream = procs.start(
        "nginx-upstream", pinned(nginx_argv(HERE / "nginx" / "upstream.conf", run_dir), client_cpu), ROOT, env
    )
    wait_ready(UPSTREAM + "/", upstream, "nginx-upstream", procs)
    redis = procs.start("redis", pinned(redis_argv(run_dir), client_cpu), ROOT, env)
    wait_port(REDIS_PORT, redis, "redis", procs)
    pids: dict[str, int] = {}  # by port: targets sharing a server share its process group
    started: dict[str, float] = {}  # seconds from the command to the first 200 on its ready path
    for target in targets:
        if target.argv:
            began = time.monotonic()
            cpu = server_cpu if target.pinned else None
            proc = procs.start(target.name.split()[0], pinned(target.argv, cpu), ROOT, env)
            wait_ready(f"http://127.0.0.1:{target.port}{target.ready_path}", proc, target.name, procs)
            started[target.name] = time.monotonic() - began
            pids[str(target.port)] = proc.pid
        if target.setup is not None:
            target.setup(target)
    for _ in range(args.runs):
        for target in targets:
            conns = target.conns or args.connections
            if args.warmup > 0:
                wrk.run(target.url, conns, args.warmup, client_cpu, target.headers)
            pid = pids.get(str(target.port))
            cpu_before = group_cpu_seconds(pid) if pid else 0.0
            result = wrk.run(target.url, conns, args.duration, client_cpu, target.headers)
            cpu = group_cpu_seconds(pid) - cpu_before if pid else 0.0
            if target.refused:  # refusals are the expected answer: an admitted request is the error
                result["errors"] = result["socket_errors"] + result["requests"] - result["non2xx"]
            result["cpu_us_per_req"] = cpu * 1e6 / result["requests"] if result["requests"] else float("nan")
            result["rss_mb"] = group_peak_rss_mb(pid) if pid else float("nan")
            target.runs.append(result)
    rows = summarize(targets, started)
    print(table(rows, args))
    reports = [target.report(target, run_dir) for target in targets if target.report is not None]
    for line in reports:
        print("\n" + line)
    if args.json:
        runs = {t.name: t.runs for t in targets}
        args.json.write_text(json.dumps({"rows": rows, "reports": reports, "runs": runs}, indent=1))
    return 0


def summarize(targets: list[Target], started: dict[str, float]) -> list[dict[str, object]]:
    by_name = {t.name: t for t in targets}

    def ratio(target: Target, anchor: str, key: str = "rps") -> float:
        base = by_name[anchor].runs
        values = [r[key] / b[key] for r, b in zip(target.runs, base, strict=True) if b[key]]
        return statistics.median(values) if values else float("nan")

    rows = []
    for t in targets:
        med = {
            k: statistics.median(r[k] for r in t.runs)
            for k in ("rps", "p50", "p99", "p999", "max", "cpu_us_per_req", "rss_mb")
        }
        one_conn = (t.conns or 64) == 1
        rows.append(
            {
                "name": t.name,
                **med,
                "errors": sum(int(r["errors"]) for r in t.runs),
                "start_s": started.get(t.name, float("nan")),
                "x_nginx": ratio(t, "nginx-proxy, 1 conn" if one_conn else "nginx-proxy"),
                "x_raw": float("nan") if one_conn else ratio(t, "raw-aiohttp"),
                "p50_minus_nginx_ms": med["p50"]
                - statistics.median(r["p50"] for r in by_name["nginx-proxy, 1 conn"].runs)
                if one_conn
                else float("nan"),
            }
        )
    return rows


def table(rows: list[dict[str, object]], args: argparse.Namespace) -> str:
    placement = "pinned: servers CPU 1, wrk and upstream CPU 0" if args.pin else "unpinned"
    columns = (
        "target", "rps", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "x nginx-proxy", "x raw ASGI+aiohttp",
        "p50 - nginx ms", "CPU us/req", "peak RSS MB", "start s", "errors",
    )  # fmt: skip
    head = (
        f"{args.runs} round(s) x {args.duration:g} s, -c {args.connections}, {placement}, "
        f"{time.strftime('%Y-%m-%d')}\n\n| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{_num(r['p999'], '.1f')} | {_num(r['max'], '.1f')} | {r['x_nginx']:.3f} | "
            f"{_num(r['x_raw'], '.2f')} | {_num(r['p50_minus_nginx_ms'], '.2f')} | "
            f"{_num(r['cpu_us_per_req'], '.0f')} | {_num(r['rss_mb'], '.0f')} | "
            f"{_num(r['start_s'], '.2f')} | {r['errors']} |"
        )
    return "\n".join(lines)


def _num(value: object, fmt: str) -> str:
    return "-" if not isinstance(value, float) or value != value else format(value, fmt)


if __name__ == "__main__":
    sys.exit(main())
