"""The shared shape of the steps that act on the key auth found (key expiry, access rights, the key's
rate limit and quota): on whenever the API asks for some auth method, and knowing the API they guard.

It decides nothing about a request itself: each step's `on_request` does.
"""

from __future__ import annotations

from gateway.apidef.model import APISpec
from gateway.config.model import Config


class KeyStep:
    def __init__(self, spec: APISpec, config: Config) -> None:
        self.spec = spec
        self.api_id = spec.api_id

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return not spec.keyless
