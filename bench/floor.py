"""`python -m bench.floor [--granian PATH]`: the HTTP server alone, answering a fixed 220-byte response
(bench/anchors/fixed.py), under uvicorn's own httptools protocol, under the gateway's listener protocol
(app/listener.py over app/cycle.py), and, given a granian executable (granian is not a dependency: install
it in a venv of its own), under granian's ASGI and RSGI interfaces, one worker, one runtime thread.

Pinned as the benchmark pins (servers on CPU 1, wrk on CPU 0), in interleaved rounds; it prints rps, CPU
us per request and the ratio to uvicorn's protocol, per round's median. It is how the gateway's server was
chosen (bench/README.md, "The server side")."""

from __future__ import annotations

import argparse
import atexit
import os
import statistics
import sys
from pathlib import Path

from bench import wrk
from bench.procs import Procs, group_cpu_seconds, port_in_use, wait_ready

HERE = Path(__file__).resolve().parent
FIXED = str(HERE / "anchors" / "fixed.py")


def servers(granian: str | None) -> list[tuple[str, int, list[str]]]:
    python = sys.executable
    found = [
        ("uvicorn httptools", 18041, [python, FIXED, "18041", "uvicorn"]),
        ("gateway listener", 18042, [python, FIXED, "18042", "listener"]),
    ]
    if granian:
        common = ["--host", "127.0.0.1", "--loop", "uvloop", "--workers", "1", "--runtime-threads", "1"]
        for port, interface in ((18043, "asgi"), (18044, "rsgi")):
            argv = [granian, "--interface", interface, *common, "--port", str(port), "--no-ws"]
            found.append((f"granian {interface.upper()}", port, [*argv, f"bench.anchors.fixed:{interface}"]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("--granian", help="a granian executable (granian's own venv)")
    args = parser.parse_args(argv)
    run_dir = HERE / "run" / "floor"
    run_dir.mkdir(parents=True, exist_ok=True)
    procs = Procs(run_dir)
    atexit.register(procs.stop_all)
    pin = (os.cpu_count() or 1) > 1
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    chosen = servers(args.granian)
    pids: dict[str, int] = {}
    for name, port, cmd in chosen:
        if port_in_use(port):
            sys.exit(f"bench.floor: port {port} on 127.0.0.1 is in use")
        pinned = ["taskset", "-c", "1", *cmd] if pin else cmd
        proc = procs.start(name.replace(" ", "-"), pinned, HERE.parent, env)
        wait_ready(f"http://127.0.0.1:{port}/", proc, name, procs)
        pids[name] = proc.pid
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in chosen}
    for _ in range(args.runs):
        for name, port, _ in chosen:
            before = group_cpu_seconds(pids[name])
            url = f"http://127.0.0.1:{port}/"
            result = wrk.run(url, args.connections, args.duration, "0" if pin else None)
            cpu = group_cpu_seconds(pids[name]) - before
            runs[name].append((result["rps"], cpu * 1e6 / max(1.0, result["requests"])))
    base = statistics.median(r for r, _ in runs[chosen[0][0]])
    print("| server | rps | CPU us/req | x uvicorn httptools |\n|---|---|---|---|")
    for name, _, _ in chosen:
        rps = statistics.median(r for r, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        print(f"| {name} | {rps:,.0f} | {cpu:.1f} | {rps / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
