"""Loading user Python from `middleware_path`: finding the file, importing it as a fresh module per
owner (so two APIs' files never share globals), and naming a function in it.

Every problem is a ConfigError naming the file and the cause, raised at load time. It must not call
user functions: running them (threads, timeouts) is the caller's concern.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from gateway.errors import ConfigError

_serial = itertools.count(1)


def find(value: Any, middleware_dir: str, config_dir: str, where: str, field: str = "path") -> Path:
    """A user file: absolute as given; relative to middleware_path, then the config folder, then the
    working directory (Tyk resolves against the working directory only)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(where, f'"{field}": expected a file path, got {value!r}')
    given = Path(value)
    candidates = (
        (given,) if given.is_absolute() else (Path(middleware_dir) / given, Path(config_dir) / given, given)
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(where, f'"{field}": file not found: {value!r} (looked in {middleware_dir})')


def load_module(path: Path, owner: str, where: str) -> ModuleType:
    """Import `path` as a new module named after its owner; an error while importing is a ConfigError."""
    name = f"gateway_user_{next(_serial)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(where, f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__gateway_owner__"] = owner
    # Registered while it runs so that dataclasses and pickling inside user code can find the module.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ConfigError(where, f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        line = traceback.extract_tb(exc.__traceback__)[-1].lineno if exc.__traceback__ else "?"
        raise ConfigError(where, f"{path}:{line}: import failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.modules.pop(name, None)
    return module


def function(module: ModuleType, name: Any, where: str, field: str = "name") -> Callable[..., Any]:
    """The callable `name` defined by `module`."""
    if not isinstance(name, str) or not name:
        raise ConfigError(where, f'"{field}": expected a function name, got {name!r}')
    found = getattr(module, name, None)
    if found is None:
        raise ConfigError(where, f"{module.__file__}: defines no {name!r}")
    if not callable(found):
        raise ConfigError(where, f"{module.__file__}: {name!r} is not a function")
    return found  # type: ignore[no-any-return]


def is_async(fn: Callable[..., Any]) -> bool:
    """True for `async def` functions (and objects whose __call__ is one)."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)
