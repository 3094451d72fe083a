"""The gateway as a newcomer gets it: the wheel built from this checkout, installed (not editable) in a
fresh virtual environment outside the checkout, used from an empty folder.

One environment per run (module fixture): the console script serving an `init` folder whose webhook has
no template path, `demo --run`, and the README's "In your own tests" example as pasted.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.testing import WebhookRecorder, echo_app, eventually, serve, unused_port

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"


def run(*argv: str | Path, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """bin/ of a fresh venv holding the wheel and pytest-asyncio, pinned by the lock (hashes dropped:
    the wheel itself has none); the checkout is nowhere on its path."""
    work = tmp_path_factory.mktemp("installed")
    dist = work / "dist"
    # No isolation: the build backend is the locked setuptools, not whatever the index serves today.
    # Neither --sdist nor --wheel: the wheel is built from the sdist, so the sdist is proved complete too.
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=work)
    (wheel,) = dist.glob("*.whl")
    assert list(dist.glob("*.tar.gz")), "no sdist was built"
    run(sys.executable, "-m", "venv", work / "venv", cwd=work)
    bin_dir = work / "venv" / "bin"
    pins = re.sub(r"\s*\\\n\s*--hash=\S+", "", LOCK.read_text())
    (work / "constraints.txt").write_text(pins)
    pip = (bin_dir / "pip", "install", "-q", "--disable-pip-version-check", "-c", work / "constraints.txt")
    run(*pip, wheel, "pytest", "pytest-asyncio", cwd=work)
    yield bin_dir
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_package_is_used_not_the_checkout(installed: Path, empty: Path) -> None:
    where = run(installed / "python", "-c", "import gateway; print(gateway.__file__)", cwd=empty)
    assert "site-packages" in where and not where.startswith(str(ROOT))


async def test_init_then_the_console_script_serves_and_the_packaged_template_renders(
    installed: Path, empty: Path
) -> None:
    run(installed / "tyk-mini-gateway", "init", "gw", cwd=empty)
    recorder = WebhookRecorder()
    async with serve(echo_app) as upstream, serve(recorder) as hook:
        for app in (empty / "gw" / "apps").glob("*.json"):  # the starter's ports, moved to the test's
            text = app.read_text().replace("http://127.0.0.1:8000", upstream.url)
            app.write_text(text.replace("http://127.0.0.1:9000", hook.url))
        port = unused_port()
        env = {**os.environ, "TYK_GW_LISTENPORT": str(port)}
        proc = await asyncio.create_subprocess_exec(
            installed / "tyk-mini-gateway", "--conf", "gw/tyk.conf", cwd=empty, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await eventually(lambda: _answers(client), "the gateway to listen", timeout=30)
                codes = [(await client.get("/keyless/get")).status_code for _ in range(3)]
                assert codes == [200, 200, 429]
                (delivery,) = await recorder.wait_for(1, timeout=10)
        finally:
            proc.terminate()
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, out.decode()
    body = delivery.json()  # the packaged default_webhook.json: Tyk's fields
    assert body["event"] == "RatelimitExceeded" and body["message"] == "API Rate Limit Exceeded"
    assert body["path"] == "/keyless/get" and delivery.headers["x-tyk"] == "keyless"
    assert "[on_event] keyless: RatelimitExceeded" in out.decode()  # middleware/on_event.py ran


async def _answers(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/hello")).status_code == 200
    except httpx.TransportError:
        return False


def test_demo_run_from_an_empty_folder(installed: Path, empty: Path) -> None:
    for port in (8000, 8080, 9000):
        with __import__("socket").socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is busy: the demo needs 8000, 8080 and 9000 free")
    out = run(installed / "python", "-m", "gateway", "demo", "--run", cwd=empty, timeout=120)
    assert "[200, 200, 429]" in out and '"event": "RatelimitExceeded"' in out
    assert list(empty.iterdir()) == []  # the demo's store lived in a folder of its own


def test_the_readme_test_example_runs_as_pasted(installed: Path, empty: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## In your own tests")
    section = readme[start : readme.find("\n## ", start + 1)]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    (settings,) = re.findall(r"```ini\n(.*?)```", section, re.S)  # what the README says to configure
    (empty / "pytest.ini").write_text(settings)
    (empty / "test_gateway_example.py").write_text(code)
    out = run(installed / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=empty)
    assert "1 passed" in out


def test_the_examples_check_cleanly_as_installed(installed: Path, empty: Path) -> None:
    conf = run(
        installed / "python",
        "-c",
        "from gateway.packaged import EXAMPLE_CONF; print(EXAMPLE_CONF)",
        cwd=empty,
    )
    out = run(installed / "python", "-m", "gateway", "check", "--conf", conf.strip(), cwd=empty)
    assert "skipped" not in out and out.count("loaded") == 3
