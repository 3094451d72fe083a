"""Observability: Prometheus metrics (metrics.py, the families; route.py, the per-request observation).

Built only when tyk.conf `metrics.enabled` is true; app/metered.py wires it to the running gateway.
"""
