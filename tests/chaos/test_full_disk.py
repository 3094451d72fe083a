"""A gateway whose disk fills up: its storage.path on a small tmpfs (a user and mount namespace of its
own), filled from outside through /proc/<pid>/root. Events fired while the disk is full and the webhook
receiver is down are held in memory, not sent once and lost; once space is freed each is delivered
exactly once, a restart on the same files sends none again, and the outage logs a few lines, not one per
event. A stop while the disk is still full says what it leaves and exits non-zero.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing import WebhookRecorder, echo_app, eventually, serve, unused_port
from tests.e2e.test_outbox import api, fire, start
from tests.e2e.test_two_gateways import ROOT, wait_ready

pytestmark = pytest.mark.chaos

EVENTS = 300
DISK = "4m"  # the tmpfs: small, and the filler takes whatever the gateway leaves
# Mount the tmpfs on $1, run the gateway (the rest), then copy its files out to $2 for the restart.
WRAPPER = """
disk=$1 keep=$2
shift 2
mount -t tmpfs -o size={size} tmpfs "$disk" || exit 97
"$@"
status=$?
cp -a "$disk/data" "$keep"
exit $status
"""


class Receiver:
    """A webhook target answering 503 while down, then a WebhookRecorder: `recorder.deliveries` holds
    exactly the deliveries that succeeded."""

    def __init__(self) -> None:
        self.up = False
        self.refused = 0
        self.recorder = WebhookRecorder()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self.up:
            self.refused += 1
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.recorder(scope, receive, send)


def mountable(folder: Path) -> str | None:
    """Why a tmpfs cannot be mounted here in a user namespace, or None when it can."""
    folder.mkdir()
    try:
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', str(folder)],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare cannot run: {exc}"
    return None if done.returncode == 0 else f"unshare -rm + mount tmpfs failed: {done.stderr.decode()}"


def fill(folder: Path) -> Path:
    """Write a file in `folder` until the file system has no byte left; it frees the space when removed."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 512, b"\0"):
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def child_of(pid: int) -> int:
    """The one child process of `pid` (the gateway under the wrapper's shell)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                return int(entry.name)
    raise AssertionError(f"process {pid} has no child")


@asynccontextmanager
async def on_full_disk(tmp_path: Path, hook: str, upstream: str) -> AsyncIterator[dict[str, Any]]:
    """A gateway on a tmpfs, ready and then with its disk full: a dict of its `url`, `client`, `proc`
    (the namespace's shell, whose exit status is the gateway's), `disk` (the tmpfs seen from here),
    `log` (its stderr) and `keep` (its files, copied out once it exits)."""
    reason = mountable(tmp_path / "probe")
    if reason is not None:
        pytest.skip(f"no tmpfs to fill: {reason}")
    disk, keep, log = tmp_path / "disk", tmp_path / "kept", tmp_path / "gateway.log"
    disk.mkdir()
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "api.json").write_text(json.dumps(api(upstream, hook)))
    (tmp_path / "wrapper.sh").write_text(WRAPPER.format(size=DISK))
    port = unused_port()
    conf = tmp_path / "gw.conf"
    raw = {"listen_address": "127.0.0.1", "listen_port": port, "secret": "full-disk", "app_path": "apps"}
    conf.write_text(json.dumps({**raw, "storage": {"type": "embedded", "path": str(disk / "data")}}))
    gateway = [sys.executable, "-m", "gateway", "--conf", str(conf)]
    wrapped = ["unshare", "-rm", "sh", str(tmp_path / "wrapper.sh"), str(disk), str(keep), *gateway]
    with log.open("wb") as err:
        proc = subprocess.Popen(wrapped, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await wait_ready(client, "/hello", proc)
            seen = Path(f"/proc/{proc.pid}/root") / disk.relative_to("/")  # the tmpfs, not the folder
            filler = fill(seen)
            yield {"client": client, "proc": proc, "log": log, "keep": keep, "filler": filler, "port": port}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


async def handled(client: httpx.AsyncClient, count: int) -> bool:
    """Whether `count` events have been through their handler (failed included: sent once and lost)."""
    stats = (await client.get("/tyk/events/stats", headers={"x-tyk-authorization": "full-disk"})).json()
    return bool(stats["handled"] + stats["failed"] >= count)


async def stop(gw: dict[str, Any]) -> int:
    """SIGTERM the gateway itself (not its shell); the shell's exit status is the gateway's."""
    os.kill(child_of(gw["proc"].pid), signal.SIGTERM)
    return int(await asyncio_wait(gw["proc"]))


async def asyncio_wait(proc: subprocess.Popen[bytes]) -> int:
    return await asyncio.to_thread(proc.wait, 60)


def pending(outbox: Path) -> set[str]:
    """Deliveries the outbox file holds unfinished (read from outside the gateway)."""
    ids: set[str] = set()
    for line in outbox.read_text().splitlines():
        _number, op, value = json.loads(line)
        ids.add(value["id"]) if op == "add" else ids.discard(value)
    return ids


def warning_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " WARNING " in line or " ERROR " in line]


async def test_webhooks_fired_on_a_full_disk_are_each_delivered_once_when_space_returns(
    tmp_path: Path,
) -> None:
    receiver = Receiver()
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        async with on_full_disk(tmp_path, hook.url, upstream.url) as gw:
            await fire(gw["client"], "", EVENTS)  # one 200, then one event per 429
            await eventually(lambda: handled(gw["client"], EVENTS), "every event handled", timeout=60)
            receiver.up = True
            gw["filler"].unlink()  # space again
            await receiver.recorder.wait_for(EVENTS, timeout=30)
            stats = await gw["client"].get("/tyk/events/stats", headers={"x-tyk-authorization": "full-disk"})
            assert stats.json()["webhooks"]["outbox_unavailable"] == 0
            assert await stop(gw) == 0
        lines = warning_lines(gw["log"])
        ids = [d.headers["webhook-id"] for d in receiver.recorder.deliveries]
        assert len(ids) == len(set(ids)) == EVENTS  # every event, none twice
        storage = {"type": "embedded", "path": str(gw["keep"])}
        assert pending(gw["keep"] / "outbox.aof") == set()
        # The restart, on the files the full disk held: nothing is left to send again. One new event,
        # sent after anything left by the last run, proves it.
        restarted = start(tmp_path, "again", gw["port"], {"storage": storage})
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw['port']}", timeout=30) as client:
                await wait_ready(client, "/hello", restarted)
                assert (await client.get("/example-local-webhook/get")).status_code == 429
                await receiver.recorder.wait_for(EVENTS + 1, timeout=30)
                await eventually(lambda: not pending(gw["keep"] / "outbox.aof"), "the outbox to empty")
        finally:
            restarted.send_signal(signal.SIGTERM)
            exit_code = await asyncio_wait(restarted)
    ids = [d.headers["webhook-id"] for d in receiver.recorder.deliveries]
    print(
        f"fired {EVENTS}, sends tried while full {receiver.refused}, "
        f"delivered {len(ids)} ({len(set(ids))} distinct, the restart's new event included), "
        f"warning lines {len(lines)}"
    )
    assert len(ids) == len(set(ids)) == EVENTS + 1 and exit_code == 0
    assert any("webhook outbox cannot be written" in line for line in lines)
    assert len(lines) <= 10, "\n".join(lines)  # throttled: a few lines per outage, not one per event


async def test_a_stop_while_the_disk_is_full_reports_what_it_leaves_and_exits_non_zero(
    tmp_path: Path,
) -> None:
    receiver = Receiver()
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        async with on_full_disk(tmp_path, hook.url, upstream.url) as gw:
            await fire(gw["client"], "", 20)
            await eventually(lambda: handled(gw["client"], 20), "every event handled", timeout=60)
            exit_code = await stop(gw)
    text = gw["log"].read_text()
    lost = re.search(r"(\d+) deliveries held in memory are lost", text)
    assert exit_code == 1 and lost is not None and int(lost[1]) > 0, text
    assert "stopped with work left undone" in text
