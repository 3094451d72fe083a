"""A Tyk-compatible API gateway with a built-in event system.

The composition root is `gateway.app.gateway`; the command line is `python -m gateway`.
This file only names the version: nothing here may import a submodule.
"""

__version__ = "0.1.0"
