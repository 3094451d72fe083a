"""Running wrk and reading its report: requests per second, latency percentiles (to the 99.9th, and the
max, which `latency.lua` prints), errors. Every run is bounded by its duration plus a subprocess timeout;
the load generator is pinned when asked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
TAIL_SCRIPT = (
    Path(__file__).resolve().parent / "latency.lua"
)  # prints p99.9 and max, which --latency does not


def _ms(token: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", token)
    if not match:
        raise ValueError(token)
    return float(match.group(1)) * UNIT[match.group(2)]


def parse(out: str) -> dict[str, float]:
    result: dict[str, float] = {}
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(match.group(1)) if match else 0.0
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}"] = _ms(match.group(1)) if match else float("nan")
    match = re.search(r"^tail p99\.9 (\d+) us, max (\d+) us", out, re.M)
    result["p999"], result["max"] = (int(g) / 1e3 for g in match.groups()) if match else (float("nan"),) * 2
    match = re.search(r"(\d+) requests in", out)
    result["requests"] = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = sum(int(x) for x in match.groups()) if match else 0
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = int(match.group(1)) if match else 0
    result["errors"] = result["socket_errors"] + result["non2xx"]
    return result


def run(
    url: str, conns: int, duration: float, cpu: str | None, headers: dict[str, str] | None = None
) -> dict[str, float]:
    argv = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(TAIL_SCRIPT),
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    if cpu is not None:
        argv = ["taskset", "-c", cpu, *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}\n{done.stdout}")
    return parse(done.stdout)
