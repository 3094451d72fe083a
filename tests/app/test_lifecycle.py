"""The gateway's lifecycle: a start that fails part way closes what it had opened (the store's folder
lock among them), so the same folder starts cleanly next time; a stop releases it too."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app.gateway import Gateway
from gateway.config.model import from_dict
from gateway.errors import ConfigError


async def test_a_failed_start_releases_the_store_and_a_later_start_works(tmp_path: Path) -> None:
    # The monitor's webhook is built after the store is open: a template found nowhere fails the start there.
    monitor = {
        "enable_trigger_monitors": True,
        "monitor_user_keys": True,
        "configuration": {
            "method": "POST",
            "target_path": "http://127.0.0.1:9/m",
            "template_path": "nowhere.json",
        },
    }
    bad = from_dict({"monitor": monitor}, base_dir=tmp_path, environ={})
    with pytest.raises(ConfigError, match=r"nowhere\.json"):
        await Gateway(bad).start()
    good = Gateway(from_dict({}, base_dir=tmp_path, environ={}))
    await good.start()  # the embedded store's folder lock was released by the failed start
    await good.stop()
    again = Gateway(from_dict({}, base_dir=tmp_path, environ={}))
    await again.start()  # and by a stop
    await again.stop()
