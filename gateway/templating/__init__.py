"""Tyk's Go templates: loading, escaping and rendering webhook bodies and error pages (template), and
the Go-template to jinja2 translator with its render memo (go/).

It does no I/O while rendering and knows nothing of events, handlers or requests.
"""
