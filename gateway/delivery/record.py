"""How a Delivery is written into an outbox: one JSON text, secrets and headers sealed at rest.

The rendered body is stored as is (base64): it is what will be sent. The Standard Webhooks secrets and
the request headers (a header_map often carries the target's credentials) are sealed under the gateway
`secret` (gateway.sealing), so the outbox file or the Redis Stream never holds them in the clear. No I/O.
"""

from __future__ import annotations

import json

from gateway.delivery.model import Delivery
from gateway.sealing import Sealer

_PURPOSE = b"webhook-outbox-secrets"


class RecordCodec:
    __slots__ = ("_sealer",)

    def __init__(self, secret: str) -> None:
        self._sealer = Sealer(secret, _PURPOSE)

    def dump(self, delivery: Delivery) -> dict[str, object]:
        record = delivery.to_json()
        record["secrets"] = [self._sealer.seal(s) for s in delivery.secrets]
        record["headers"] = self._sealer.seal(json.dumps(record["headers"]))
        return record

    def dumps(self, delivery: Delivery) -> str:
        return json.dumps(self.dump(delivery), separators=(",", ":"))

    def load(self, record: object) -> Delivery:
        """The delivery; ValueError when the record is damaged or its secrets were sealed under
        another gateway secret (sending it unsigned would defeat the receiver's check)."""
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        sealed = record.get("secrets")
        if not isinstance(sealed, list) or not all(isinstance(s, str) for s in sealed):
            raise ValueError('"secrets": expected a list of strings')
        if not isinstance(record.get("headers"), str):
            raise ValueError('"headers": expected a sealed string')
        secrets = [self._sealer.open(s) for s in sealed]
        headers = self._sealer.open(record["headers"])
        if headers is None or any(s is None for s in secrets):
            raise ValueError("headers or signing secrets sealed under another gateway secret")
        try:
            return Delivery.from_json({**record, "secrets": secrets, "headers": json.loads(headers)})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"damaged delivery record: {type(exc).__name__} {exc}") from exc

    def loads(self, text: str | bytes) -> Delivery:
        return self.load(json.loads(text))
