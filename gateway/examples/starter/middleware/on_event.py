"""A Python event handler, named by apps/keyless.json (`eh_dynamic_handler`, name `on_event`).

It gets Tyk's event envelope (`Type`, `Meta`, `TimeStamp`) and a context (`APIID`, `OrgID`); it may be
`async def`. It runs off the request path, cut off at its timeout (5 s by default).
"""

from typing import Any


def on_event(event: dict[str, Any], context: dict[str, Any]) -> None:
    print(f"[on_event] {context['APIID']}: {event['Type']} {event['Meta'].get('Message', '')}", flush=True)
