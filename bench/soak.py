"""`python -m bench.soak`: a bounded soak of one gateway on 127.0.0.1 (a keyed API, and a rate-limited one
whose refusals fire webhook events) loaded by wrk in turns and sampled in the middle of each turn:
resident memory, open file descriptors, the event queue (fired, not yet handled) and webhooks in flight,
from /proc and the gateway's /tyk/events/stats. It prints a row per sample and the drift first to last.

It asserts nothing (a soak's figures are for a person to read, or for --json); the suite runs it briefly.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import wrk
from bench.__main__ import ensure_tools
from bench.procs import Procs, port_in_use, wait_ready
from bench.scenarios import SECRET, UPSTREAM, api, flood_api, gateway, nginx_argv, post_key

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PORT = 18040
MAX_MINUTES = 24 * 60  # a soak is long, never endless


def sample(pid: int) -> dict[str, Any]:
    """The gateway's RSS (MiB) and open descriptors from /proc, and its event counts."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    conn.request("GET", "/tyk/events/stats", headers={"x-tyk-authorization": SECRET})
    stats = json.loads(conn.getresponse().read())
    conn.close()
    hooks = stats["webhooks"]
    settled = hooks["delivered"] + hooks["given_up"] + hooks["gone"] + hooks["deduplicated"]
    return {
        "rss_mb": round(rss_kib / 1024, 1),
        "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())),
        "fired": stats["fired"],
        "queued": stats["fired"] - stats["handled"] - stats["failed"] - stats["dropped"],
        "dropped": stats["dropped"],
        "webhooks_open": max(0, stats["handled"] - settled) if stats["handled"] else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help=f"how long (at most {MAX_MINUTES})")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds of load between samples")
    parser.add_argument("-c", "--connections", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= MAX_MINUTES or args.interval < 1:
        parser.error(f"--minutes must be in (0, {MAX_MINUTES}] and --interval at least 1")
    ensure_tools()
    run_dir = HERE / "run" / "soak"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "tmp").mkdir(parents=True)
    procs = Procs(run_dir)
    atexit.register(procs.stop_all)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    for port in (18000, PORT):
        if port_in_use(port):
            sys.exit(f"bench.soak: port {port} on 127.0.0.1 is in use; stop what holds it first")
    env = {"PYTHONPATH": str(ROOT), "UPSTREAM_URL": UPSTREAM, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    upstream = procs.start("nginx-upstream", nginx_argv(HERE / "nginx" / "upstream.conf", run_dir), ROOT, env)
    wait_ready(UPSTREAM + "/", upstream, "nginx-upstream", procs)
    argv_gw = gateway(
        "soak", PORT, run_dir, [api("keyed", keyed=True), flood_api()], {"type": "embedded", "path": "data"}
    )
    proc = procs.start("gateway", argv_gw, ROOT, env)
    wait_ready(f"http://127.0.0.1:{PORT}/hello", proc, "gateway", procs)
    keyed = {"Authorization": post_key(PORT, "keyed")}
    flood = {"Authorization": post_key(PORT, "flood", rate=1, per=3600)}
    loads = [(f"http://127.0.0.1:{PORT}/keyed/get", keyed), (f"http://127.0.0.1:{PORT}/flood/get", flood)]
    samples = [{"t": 0.0, "rps": 0.0, **sample(proc.pid)}]
    began, turn = time.monotonic(), 0
    print("   t(s)     rps  rss(MB)  fds    fired  queued  dropped  webhooks open", flush=True)
    while time.monotonic() - began < args.minutes * 60:
        url, headers = loads[turn % len(loads)]
        turn += 1
        results: list[dict[str, float]] = []
        load = threading.Thread(
            target=lambda out, u, h: out.append(wrk.run(u, args.connections, args.interval, None, h)),
            args=(results, url, headers),
        )
        load.start()
        load.join(args.interval / 2)  # half the turn under load, then the sample: the queue as it is then
        row = {"t": round(time.monotonic() - began, 1), **sample(proc.pid)}
        load.join(args.interval + 30)  # wrk's own bound
        row["rps"] = round(results[0]["rps"]) if results else 0
        samples.append(row)
        print(
            f"{row['t']:7.0f} {row['rps']:7.0f} {row['rss_mb']:8.1f} {row['fds']:4d} {row['fired']:8d} "
            f"{row['queued']:7d} {row['dropped']:8d} {row['webhooks_open']:14d}",
            flush=True,
        )
    first, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]
    print(
        f"drift over {last['t']:.0f} s: RSS {first['rss_mb']} -> {last['rss_mb']} MB, "
        f"fds {first['fds']} -> {last['fds']}, largest queue {max(s['queued'] for s in samples)}, "
        f"dropped {last['dropped']}"
    )
    if args.json:
        args.json.write_text(json.dumps(samples, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
