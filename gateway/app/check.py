"""`python -m gateway check --conf PATH`: what starting would reject, found without starting anything.

Owns the CLI's config loading (the no-tyk.conf hint, unread keys warned on stderr, the listen address) and
the dry run of tyk.conf's handlers and every API in app_path, hooks and handlers included. It must not
serve, bind a port or open the store: what lives there (stored webhooks, certificates) is noted, unchecked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

from gateway import chain
from gateway import log as log_mod
from gateway.apidef import classic
from gateway.apidef.loader import LoadResult, load_dir
from gateway.apidef.model import APISpec, HandlerSpec
from gateway.app.event_side import HandlerLayer
from gateway.certs import tls
from gateway.certs.registry import upstream_ref
from gateway.config import check as config_check
from gateway.config import model as config_mod
from gateway.errors import ConfigError, Refused, StoreError
from gateway.handlers import global_webhooks, registry
from gateway.handlers.base import HandlerScope
from gateway.handlers.webhook import WebhookHandler
from gateway.identity.sessions import SessionStore
from gateway.store.base import Store

NO_CONF = (
    'no tyk.conf here and no --conf given: run "python -m gateway init DIR" for a starter folder, '
    "then --conf DIR/tyk.conf"
)
_UNCHECKED = "not checked (check opens no store)"


def load_conf(conf: str | None) -> config_mod.Config:
    """The config the command line serves or checks (`conf` None: ./tyk.conf); each key it does not read
    is printed to stderr, once. ConfigError, ready to print, for a missing file or a bad value."""
    if conf is None:
        if not Path("tyk.conf").exists():
            raise ConfigError("", NO_CONF)
        conf = "tyk.conf"
    cfg = config_mod.load(conf, warn=lambda line: print(f"warning: {line}", file=sys.stderr))
    config_check.check_listen_address(cfg.listen_address, cfg.listen_port, conf)
    return cfg


def run(conf: str | None) -> int:
    """0: everything loads; 1: an API or handler would be skipped; 2: the config itself is wrong."""
    # The loaders log what they skip; check prints it once, in its own lines, so only errors log.
    log_mod.setup("ERROR")
    try:
        cfg = load_conf(conf)
        tls.server_tls(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_check(cfg))


class _NoStore:
    """Stands in for the store: what check builds must not touch it, and a stored webhook is unknown."""

    def __getattr__(self, name: str) -> NoReturn:
        raise StoreError(f"check opens no store (asked for {name})")


async def _check(cfg: config_mod.Config) -> int:
    store = cast(Store, _NoStore())
    sessions = SessionStore(
        store,
        hash_keys=cfg.hash_keys,
        hash_function=cfg.hash_key_function,
        min_token_length=cfg.min_token_length,
    )
    # Without the outbox the layer writes nothing (the embedded one is a file beside the store).
    quiet = dataclasses.replace(cfg, events=dataclasses.replace(cfg.events, outbox=False))
    layer = HandlerLayer(quiet, store, sessions)
    try:
        try:
            layer.configure()  # monitor and tyk.conf webhooks: fatal when the gateway starts
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        lines = _gateway_handlers(cfg, layer)
        return _apis(cfg, layer, lines)
    finally:
        await layer.close()


def _gateway_handlers(cfg: config_mod.Config, layer: HandlerLayer) -> list[str]:
    try:
        specs = classic.event_handlers(cfg.event_handlers, "tyk.conf")
    except ConfigError as exc:
        return [f"error   {exc}"]
    return _handler_lines(specs, HandlerScope(), layer)


def _apis(cfg: config_mod.Config, layer: HandlerLayer, problems: list[str]) -> int:
    try:
        result = load_dir(cfg.app_path, cfg.policies.policy_path)
    except ConfigError as exc:  # the gateway would serve no APIs until one is posted
        result, problems = LoadResult(), [*problems, f"error   {exc}"]
    rows: list[tuple[str, str]] = [(file, f"skipped {file}: {reason}") for file, reason in result.skipped]
    for spec in result.specs:
        rows.extend((spec.source, line) for line in _api_lines(cfg, layer, spec))
    rows.sort(key=lambda row: row[0])  # file order; stable, so an API's own lines stay together
    lines = problems + [line for _, line in rows]
    for line in lines:
        print(line)
    return 1 if any(line.startswith(("error", "skipped")) for line in lines) else 0


def _api_lines(cfg: config_mod.Config, layer: HandlerLayer, spec: APISpec) -> list[str]:
    file = spec.source
    try:
        if spec.active:  # the gateway builds the chain (and imports hooks) only for active APIs
            chain.build(spec, cfg)
    except ConfigError as exc:
        return [f"skipped {file}: {exc.reason}"]
    try:
        layer.vet(spec)
        handlers = _handler_lines(spec.event_handlers, HandlerScope(spec.api_id, spec.org_id), layer)
    except Refused as exc:  # a handler's names its JSON path after the file name
        where = exc.where.removeprefix(file).strip()
        return [f"skipped {file}: {where + ': ' if where else ''}{exc.reason}"]
    notes = [" (inactive: not served)"] if not spec.active else []
    if spec.ignored:
        notes.append(f" (without unsupported: {', '.join(spec.ignored)})")
    lines = [f"loaded  {spec.api_id}  {spec.listen_path}  {file}{''.join(notes)}"]
    certs = spec.certs
    shared = [(host.lower(), str(ref)) for host, ref in cfg.security.certificates.upstream.items()]
    if certs.mutual_tls or certs.upstream or upstream_ref(shared, spec.target_url):  # resolve()'s rule
        lines.append(f"note    {file}: certificate references {_UNCHECKED}")
    return lines + handlers


def _handler_lines(specs: Sequence[HandlerSpec], scope: HandlerScope, layer: HandlerLayer) -> list[str]:
    """Each handler built as a load builds it: one line per handler the gateway would leave out."""
    known = layer.configured_webhooks
    lines: list[str] = []
    kept: list[HandlerSpec] = []
    for spec in specs:
        if _stored_reference(spec, known):
            webhook = spec.meta["id"]
            lines.append(
                f"note    {spec.where}: webhook {webhook!r} is not in tyk.conf, so a stored one: {_UNCHECKED}"
            )
        else:
            kept.append(spec)
    _, errors = registry.build(kept, scope, layer.deps, known)
    refusal = next((e for e in errors if isinstance(e, Refused)), None)
    if refusal is not None and scope.api_id:  # as a load: the whole API is refused
        raise refusal
    return lines + [f"error   {exc} (handler skipped)" for exc in errors]


def _stored_reference(spec: HandlerSpec, known: Mapping[str, Any]) -> bool:
    """A webhook entry naming a global webhook by id that tyk.conf lacks (the store may hold it)."""
    if registry.classic_name(spec.kind) != WebhookHandler.kind:
        return False
    webhook_id = global_webhooks.reference(spec.meta)
    return webhook_id is not None and webhook_id not in known
