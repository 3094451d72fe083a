"""What a definition asks for that this gateway does not implement, for both formats.

Access restrictions (IP and path allow/block lists, internal-only APIs) raise ConfigError like unsupported
auth does: ignoring them would open the API. Anything else that is switched on is only named, for
`spec.ignored` and the one log line per API. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from gateway.apidef.common import Reader, dig, switched_on

X = "$.x-tyk-api-gateway"

# Restrictions on who may call what: ignoring them would open the API, so they skip it like auth does.
RESTRICTING_PATHS = {
    "white_list": "a path allow list",
    "black_list": "a path block list",
    "internal": "internal-only endpoints",
}
RESTRICTING = (
    ("enable_ip_whitelisting", "allowed_ips", "an IP allow list"),
    ("enable_ip_blacklisting", "blacklisted_ips", "an IP block list"),
)

# (label, dotted path that turns the feature on, dotted path that turns it off again): what the corpus uses.
FEATURES = (
    ("CORS", "CORS.enable", ""),
    ("cache_options", "cache_options.enable_cache", ""),
    # Tyk itself drops service-discovered uptime tests (TYK-REFERENCE 11.9); named so nobody relies on them.
    (
        "uptime_tests.config.service_discovery",
        "uptime_tests.config.service_discovery.use_discovery_service",
        "",
    ),
    ("proxy.service_discovery", "proxy.service_discovery.use_discovery_service", ""),
    ("proxy.transport", "proxy.transport", ""),
    ("custom_middleware.pre", "custom_middleware.pre", ""),
    ("custom_middleware.post_key_auth", "custom_middleware.post_key_auth", ""),
    ("custom_middleware.post", "custom_middleware.post", ""),
    ("custom_middleware.response", "custom_middleware.response", ""),
    ("custom_middleware_bundle", "custom_middleware_bundle", "custom_middleware_bundle_disabled"),
    ("response_processors", "response_processors", ""),
    ("graphql", "graphql.enabled", ""),
    ("enable_batch_request_support", "enable_batch_request_support", ""),
    ("error_overrides", "error_overrides", "error_overrides_disabled"),
    ("enable_context_vars", "enable_context_vars", ""),
    ("request_signing", "request_signing.is_enabled", ""),
    ("pinned_public_keys", "pinned_public_keys", "certificate_pinning_disabled"),
    ("upstream_auth.basic_auth", "upstream_auth.basic_auth.enabled", ""),
)
VERSION_FEATURES = (
    "global_headers",
    "global_headers_remove",
    "global_response_headers",
    "global_response_headers_remove",
    "global_size_limit",
    "override_target",
    "ignore_endpoint_case",
)
# OAS sections never named as ignored: oas.py reads them, they are checked here as restrictions, or they
# are analytics and plugin plumbing that change nothing this gateway serves.
QUIET = frozenset({"pluginConfig", "trafficLogs", "skipRateLimit", "skipQuota", "skipQuotaReset"})
PYTHON_HOOKS = frozenset(
    {"custom_middleware.pre", "custom_middleware.post_key_auth", "custom_middleware.post"}
)
OAS_PYTHON_HOOKS = frozenset(
    {
        "prePlugins",
        "prePlugin",
        "postAuthenticationPlugins",
        "postAuthenticationPlugin",
        "postPlugins",
        "postPlugin",
    }
)
# Implemented features: Classic extended_paths keys and OAS middleware features read by their own modules.
PATHS_READ = frozenset({"circuit_breakers"})
MIDDLEWARE_READ = frozenset({"circuitBreaker"})
UPSTREAM_READ = frozenset(
    {"rateLimit", "preserveHostHeader", "uptimeTests", "loadBalancing", "authentication", "mutualTLS"}
)
SERVER_READ = frozenset(
    {
        "listenPath",
        "authentication",
        "customDomain",
        "clientCertificates",
        "eventHandlers",
        "ipAccessControl",
        "detailedActivityLogs",
        "detailedTracing",
        "gatewayTags",
    }
)


def classic(r: Reader, doc: dict[str, Any]) -> tuple[str, ...]:
    """The Classic features to name in `spec.ignored`; ConfigError for an access restriction."""
    if doc.get("internal") is True:
        raise r.unsupported("$.internal", "an internal-only API")
    for switch, listing, what in RESTRICTING:
        if doc.get(switch) is True and switched_on(doc.get(listing)):
            raise r.unsupported(f"$.{listing}", what, doc.get(listing))
    # Python hooks are implemented (apidef/hooks.py); other drivers' hooks are only named.
    python = dig(doc, "custom_middleware.driver") == "python"
    found = [
        label
        for label, on, off in FEATURES
        if switched_on(dig(doc, on))
        and not (off and dig(doc, off))
        and not (python and label in PYTHON_HOOKS)
    ]
    versions = dig(doc, "version_data.versions")
    if not isinstance(versions, dict):
        return tuple(found)
    for name, version in versions.items():
        if not isinstance(version, dict):
            continue
        # Tyk applies extended_paths when use_extended_paths is set, the plain `paths` lists otherwise.
        section = "extended_paths" if version.get("use_extended_paths") is True else "paths"
        block = version.get(section)
        for key, entries in block.items() if isinstance(block, dict) else ():
            if not switched_on(entries) or (section == "extended_paths" and key in PATHS_READ):
                continue
            label = f"version_data.versions.{name}.{section}.{key}"
            if key in RESTRICTING_PATHS:
                raise r.unsupported(f"$.{label}", RESTRICTING_PATHS[key], entries)
            found.append(label)
        found.extend(
            f"version_data.versions.{name}.{key}" for key in VERSION_FEATURES if switched_on(version.get(key))
        )
    return tuple(found)


def oas(
    r: Reader, ext: dict[str, Any], info: dict[str, Any], server: dict[str, Any], upstream: dict[str, Any]
) -> tuple[str, ...]:
    """The OAS features to name in `spec.ignored`; ConfigError for an access restriction."""
    state = info.get("state")
    if isinstance(state, dict) and state.get("internal") is True:
        raise r.unsupported(f"{X}.info.state.internal", "an internal-only API")
    access = server.get("ipAccessControl")
    if (
        isinstance(access, dict)
        and access.get("enabled") is True
        and switched_on([access.get("allow"), access.get("block")])
    ):
        raise r.unsupported(f"{X}.server.ipAccessControl", "IP access control", access)
    found: list[str] = []
    for section, block, known in (
        ("upstream", upstream, UPSTREAM_READ),
        ("server", server, SERVER_READ),
    ):
        found.extend(
            f"{section}.{key}" for key, value in block.items() if key not in known and _feature_on(value)
        )
    # Upstream OAuth is read by upstream_auth.py; upstream basic auth is not implemented.
    if _feature_on(dig(upstream, "authentication.basicAuth")):
        found.append("upstream.authentication.basicAuth")
    middleware = ext.get("middleware")
    python = dig(ext, "middleware.global.pluginConfig.driver") == "python"
    for group, entries in middleware.items() if isinstance(middleware, dict) else ():
        # `global` holds features directly; `operations`, `mcpTools`, ... hold them per operation or tool.
        scopes = {"": entries} if group == "global" else entries
        for name, settings in scopes.items() if isinstance(scopes, dict) else ():
            for feature, value in settings.items() if isinstance(settings, dict) else ():
                if feature in QUIET or feature in MIDDLEWARE_READ or not _feature_on(value):
                    continue
                if python and group == "global" and feature in OAS_PYTHON_HOOKS:
                    continue
                label = ".".join(p for p in ("middleware", group, name, feature) if p)
                if feature in ("allow", "block"):
                    raise r.unsupported(f"{X}.{label}", f"an {feature} list", value)
                # One line per feature, not per operation: `middleware.operations.*.urlRewrite`.
                found.append(f"middleware.{group}.*.{feature}" if name else label)
    return tuple(dict.fromkeys(found))


def _feature_on(value: Any) -> bool:
    """OAS features are `{"enabled": ...}` objects or, for plugin lists, non-empty lists."""
    if isinstance(value, dict):
        return value.get("enabled") is True
    return isinstance(value, list) and switched_on(value)
