"""Tyk Operator's ApiDefinition manifests as the Classic definitions Operator sends to Tyk: the spec is a
Classic definition in its JSON field names, with the few rewrites Operator makes before the call.

Pure: a manifest in, a Classic dict out. What only Kubernetes can resolve (Secrets, another resource as
the upstream) raises ConfigError naming the field, so the API is skipped rather than served without it.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ConfigError
from gateway.manifests import API, Manifest, derived_id, encoded_reference

# Operator fields that name Kubernetes Secrets, and the Tyk field that takes the certificates themselves.
SECRET_FIELDS = {
    "certificate_secret_names": "certificates",
    "upstream_certificate_refs": "upstream_certificates",
    "pinnedPublicKeysSecretNames": "pinned_public_keys",
}
OAS_KIND = "TykOasApiDefinition"


def is_template(manifest: Manifest) -> bool:
    """An ApiDefinition labelled `template: "true"`: Operator's pattern for Ingress resources, not an API."""
    return manifest.kind == API and str(manifest.labels.get("template", "")).lower() == "true"


def refusal(manifest: Manifest) -> str:
    """Why a Tyk Operator kind this gateway cannot serve is skipped, or "" for one it simply does not use."""
    if manifest.kind == OAS_KIND:
        return (
            f"kind {OAS_KIND}: its OAS document is in a Kubernetes ConfigMap, which this gateway cannot "
            "read; put the document itself in app_path (JSON or YAML)"
        )
    return ""


def classic(manifest: Manifest) -> dict[str, Any]:
    """The Classic definition Operator would send: api_id derived from namespace/name when the spec has
    none, `contextRef` dropped (which Tyk Operator talks to: here the folder is that Tyk), and JWT policy
    references written "namespace/name" encoded as Operator encodes them."""
    where, spec = manifest.where, dict(manifest.spec)
    spec.pop("contextRef", None)
    for name, instead in SECRET_FIELDS.items():
        if spec.get(name):
            raise ConfigError(
                where,
                f"$.spec.{name}: names Kubernetes Secrets, which a gateway without Kubernetes cannot "
                f"read; give the certificates in {instead} instead",
            )
    proxy = spec.get("proxy")
    if isinstance(proxy, dict) and proxy.get("target_internal"):
        raise ConfigError(
            where,
            "$.spec.proxy.target_internal: another ApiDefinition as the upstream (Tyk's tyk:// looping) "
            "is not supported; give proxy.target_url",
        )
    if not spec.get("api_id"):
        spec["api_id"] = derived_id(manifest.namespace, manifest.name)
    defaults = spec.get("jwt_default_policies")
    if isinstance(defaults, list):
        spec["jwt_default_policies"] = [encoded_reference(p) if isinstance(p, str) else p for p in defaults]
    scopes = spec.get("jwt_scope_to_policy_mapping")
    if isinstance(scopes, dict):
        spec["jwt_scope_to_policy_mapping"] = {
            k: encoded_reference(v) if isinstance(v, str) else v for k, v in scopes.items()
        }
    return spec
