"""The benchmark cannot rot: a smoke run of `python -m bench` (one round of 1 s per target) starts every
anchor and scenario, measures each and stops them all. No timing is asserted: numbers from a 1-second
run on a shared machine mean nothing; only that each target answered, without errors, is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_module(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m <module> <args>` from the repository root; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_smoke_run_measures_every_target(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_module("bench", "--smoke", "--json", str(out), timeout=180)
    result = json.loads(out.read_text())
    rows = {row["name"]: row for row in result["rows"]}
    expected = {"nginx-proxy", "raw-aiohttp", "starlette-httpx", "S1 keyless", "S2 auth+rate+quota"}
    expected |= {"S2r the same on Redis", "S3 rate-limited flood + webhook", "S4 keyless, 1 conn"}
    expected |= {"S5 S2r, 2 workers, unpinned"}
    assert {*expected, "S6 keyless, 1,000 APIs"} <= set(rows)
    for name, row in rows.items():
        assert row["rps"] > 0, name
        if name != "starlette-httpx":  # the naive anchor may time out a request under 64 connections
            assert row["errors"] == 0, name
    assert "| S1 keyless |" in done.stdout
    # S3: every refusal fired an event, none was dropped, and the cooldown let exactly one webhook out.
    events, scaling = result["reports"]
    assert scaling.startswith("S5 scaling: two unpinned workers served "), scaling
    assert "webhooks delivered 1 (receiver counted 1), dropped 0, failed 0" in events, events
    # Every process it started is gone: nothing listens on its ports any more.
    import socket

    for port in (18000, 18001, 18013, 18020, 18021, 18023, 18024, 18025, 18026, 18030):
        with socket.socket() as sock:
            sock.settimeout(0.3)
            assert sock.connect_ex(("127.0.0.1", port)) != 0, port


def test_soak_samples_memory_descriptors_and_the_queue(tmp_path: Path) -> None:
    """`python -m bench.soak` briefly: every sample has its figures, and nothing was dropped."""
    out = tmp_path / "soak.json"
    done = run_module("bench.soak", "--minutes", "0.1", "--interval", "2", "--json", str(out), timeout=120)
    samples = json.loads(out.read_text())
    assert len(samples) >= 3
    for row in samples:
        assert row["rss_mb"] > 0 and row["fds"] > 0 and row["dropped"] == 0, row
    assert samples[-1]["fired"] > 0 and any(row["rps"] > 0 for row in samples)
    assert "drift over" in done.stdout


def test_the_server_floor_measures_both_protocols() -> None:
    """`python -m bench.floor` briefly (granian is not installed here): both servers answered."""
    done = run_module("bench.floor", "--runs", "1", "--duration", "1", timeout=60)
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| server", "| uvicorn httptools", "| gateway listener"]
    assert all(float(row.split(" | ")[1].replace(",", "")) > 0 for row in rows[1:])
