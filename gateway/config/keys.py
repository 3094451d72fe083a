"""Which tyk.conf keys exist: this gateway's (the Config dataclasses) and Tyk's (TYK_KEYS, kept as data).

Owns the warnings for keys this gateway does not read: an unknown key is named with a close match, a Tyk
key it does not implement is named as ignored. It must not reject anything (Tyk ignores unknown keys, so a
full Tyk tyk.conf still loads) and must not read files: `config.load` hands it the parsed JSON.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping
from typing import Any


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Tyk Gateway's tyk.conf keys: the JSON names in config/config.go (Config with its embedded RateLimit and
# DevelopmentConfig, and the section structs below) at TykTechnologies/tyk 31e219b, plus the keys earlier
# versions of that file read, which real tyk.conf files (Tyk's own ci/ ones among them) still carry.
# By section, "" being the top level; only sections this gateway reads need their own entry, since a
# Tyk-only section (analytics_config, slave_options, ...) is reported once, by its top-level key.
TYK_KEYS: Mapping[str, frozenset[str]] = {
    "": _keys(
        """
        hostname listen_address listen_port control_api_hostname control_api_port secret node_secret
        pid_file_location allow_insecure_configs public_key_path allow_remote_config enable_config_inspection
        security external_services http_server_options version_header suppress_redis_signal_reload
        reload_interval hash_keys disable_key_actions_by_username hash_key_function
        basic_auth_hash_key_function hash_key_function_fallback enable_hashed_keys_listing min_token_length
        template_path policies ports_whitelist disable_ports_whitelist app_path use_db_app_configs
        db_app_conf_options storage disable_dashboard_zeroconf slave_options management_node auth_override
        enforce_org_data_age enforce_org_data_detail_logging enforce_org_quotas
        experimental_process_org_off_thread monitor max_idle_connections max_idle_connections_per_host
        max_conn_time close_connections enable_custom_domains allow_master_keys service_discovery
        proxy_ssl_insecure_skip_verify proxy_enable_http2 proxy_ssl_min_version proxy_ssl_max_version
        proxy_ssl_ciphers proxy_default_timeout proxy_ssl_disable_renegotiation proxy_close_connections
        uptime_tests health_check health_check_endpoint_name readiness_check_endpoint_name
        graceful_shutdown_timeout_duration graceful_shutdown_delay_seconds oauth_refresh_token_expire
        oauth_token_expire oauth_token_expired_retain_period oauth_redirect_uri_separator
        oauth_error_status_code enable_key_logging ssl_force_common_name_check enable_analytics
        analytics_config enable_separate_analytics_store analytics_storage liveness_check dns_cache
        disable_regexp_cache regexp_cache_expire regexp_cache_max_entries disable_regexp_cache_bound
        disable_auto_max_procs local_session_cache enable_separate_cache_store cache_storage
        enable_bundle_downloader bundle_base_url bundle_insecure_skip_verify
        skip_verify_existing_plugin_bundle enable_jsvm jsvm_timeout disable_virtual_path_blobs tyk_js_path
        middleware_path coprocess_options ignore_endpoint_case ignore_canonical_mime_header_key log_level
        log_format access_logs tracing opentelemetry newrelic enable_http_profiler use_redis_log use_sentry
        sentry_code sentry_log_level use_syslog syslog_transport syslog_network_addr use_graylog
        graylog_network_addr use_logstash logstash_transport logstash_network_addr track_404_logs
        statsd_connection_string statsd_prefix event_handlers event_trigers_defunct event_triggers_defunct
        hide_generator_header suppress_default_org_store legacy_enable_allowance_countdown
        force_global_session_lifetime session_lifetime_respects_key_expiration global_session_lifetime kv
        secrets override_messages error_overrides cloud jwt_ssl_insecure_skip_verify resource_sync
        oas_config streaming labs jwks allow_unsafe_policy_ids
        enable_fixed_window_rate_limiter enable_redis_rolling_limiter enable_sentinel_rate_limiter
        enable_rate_limit_smoothing enable_non_transactional_rate_limiter drl_notification_frequency
        drl_threshold drl_enable_sentinel_rate_limiter rate_limit_response_headers
        enable_leaky_bucket_rate_limiter enable_token_bucket_rate_limiter enable_sliding_window_rate_limiter
        enable_rate_limiter_storage rate_limiter_storage
        close_idle_connections disabled_ports enable_api_segregation optimisations_use_async_session_write
        proxy_enable_h2c reload_wait_time session_update_buffer_size session_update_pool_size
        enable_coprocess coprocess_grpc_server enable_context_vars enable_geo_ip geo_ip_db_path
        """
    ),
    "storage": _keys(
        """
        type host port hosts addrs master_name sentinel_password username password database
        optimisation_max_idle optimisation_max_active timeout enable_cluster use_ssl ssl_insecure_skip_verify
        ca_file cert_file key_file tls_max_version tls_min_version compress_api_definitions compress_policies
        max_decompressed_size iam_auth max_version min_version
        """
    ),
    "http_server_options": _keys(
        """
        read_timeout write_timeout use_ssl enable_http2 enable_strict_routes enable_path_prefix_matching
        enable_path_suffix_matching ssl_insecure_skip_verify enable_websockets certificates ssl_certificates
        server_name min_version max_version skip_client_ca_announcement flush_interval skip_url_cleaning
        skip_target_path_escaping ssl_ciphers max_request_body_size xff_depth max_response_body_size
        enable_prefix_matching enable_suffix_matching max_content_length override_defaults use_ssl_le
        """
    ),
    "security": _keys(
        """
        private_certificate_encoding_secret control_api_use_mutual_tls pinned_public_keys
        allow_unsafe_dynamic_mtls_token certificates certificate_expiry_monitor
        """
    ),
    "security.certificates": _keys("apis upstream control_api dashboard_api mdcb_api"),
    "security.certificate_expiry_monitor": _keys(
        "warning_threshold_days check_cooldown_seconds event_cooldown_seconds"
    ),
    "monitor": _keys(
        "enable_trigger_monitors configuration global_trigger_limit monitor_user_keys monitor_org_keys"
    ),
    "uptime_tests": _keys("disable poller_group config"),
    "uptime_tests.config": _keys(
        "failure_trigger_sample_size time_wait checker_pool_size enable_uptime_analytics"
    ),
    "policies": _keys(
        "policy_source policy_connection_string policy_record_name allow_explicit_policy_id policy_path"
    ),
    "local_session_cache": _keys(
        "disable_cached_session_state cached_session_timeout cached_session_eviction"
    ),
    # TykTechnologies/opentelemetry config.OpenTelemetry: `tls` (the exporter's TLS) is not read here.
    "opentelemetry": _keys(
        """
        enabled exporter endpoint headers connection_timeout resource_name span_processor_type
        context_propagation tls sampling batch_size batch_timeout batch_queue_size batch_export_timeout
        """
    ),
    "opentelemetry.sampling": _keys("type rate parent_based"),
}

# Dataclass fields that are set by the loader, never read from the file.
_NOT_FROM_FILE = frozenset({"config_dir"})


def review(raw: Mapping[str, Any], config_cls: type[Any], where: str) -> list[str]:
    """One warning per key of `raw` this gateway does not read, in file order, each naming `where`.

    A Tyk key set to its zero value (false, 0, "", [], {}) asks for nothing, so ignoring it changes
    nothing and it is not reported; an unknown key always is (a typo is a mistake whatever its value).
    """
    found: list[str] = []
    _walk(raw, config_cls, "", where, found)
    return found


def _walk(raw: Mapping[str, Any], cls: type[Any], prefix: str, where: str, found: list[str]) -> None:
    hints = typing.get_type_hints(cls)
    ours = [f.name for f in dataclasses.fields(cls) if f.name not in _NOT_FROM_FILE]
    tyk = TYK_KEYS.get(prefix.rstrip("."), frozenset())
    for key, value in raw.items():
        dotted = prefix + key
        if key in ours:
            hint = hints[key]
            # Only our own sections are walked: a dict-valued key (event_handlers, monitor.configuration)
            # holds names chosen by the user, not keys.
            if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
                _walk(value, hint, dotted + ".", where, found)
        elif key in tyk:
            if not _zero(value):
                found.append(f'{where}: key "{dotted}" is a Tyk setting this gateway ignores')
        else:
            # Ours first: a misspelt key is more likely one that does something here.
            match = difflib.get_close_matches(key, ours, n=1) or difflib.get_close_matches(key, tyk, n=1)
            hint_text = f' (did you mean "{prefix}{match[0]}"?)' if match else ""
            found.append(f'{where}: unknown key "{dotted}"{hint_text}')


def _zero(value: Any) -> bool:
    # `in` compares with ==: False == 0, and 0.0 == 0.
    return value is None or value in (0, "", [], {})
