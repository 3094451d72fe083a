"""The files shipped inside the package: Tyk's default templates, the example tyk.conf and its APIs, and
the starter folder `python -m gateway init` writes.

Owns finding them through importlib.resources, so an installed wheel behaves as a checkout does, and the
template search rule every template user shares. It must not parse or render what it finds.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gateway.errors import ConfigError


def _folder(*parts: str) -> Path:
    # The gateway reads its templates and examples as plain files (jinja2, the API loader, shutil); a
    # zipped install would hand back a non-path Traversable, which str() would turn into a wrong path.
    found = resources.files("gateway").joinpath(*parts)
    path = Path(str(found))
    if not path.is_dir():  # pragma: no cover - a broken install, not a user mistake
        raise RuntimeError(f"the installed package lacks {'/'.join(parts)} (is it installed from a zip?)")
    return path


TEMPLATES = _folder("templates")  # default_webhook.json, monitor_template.json, error.json, ...
EXAMPLES = _folder("examples")  # tyk.conf.example and apps/, what `demo` serves
EXAMPLE_CONF = EXAMPLES / "tyk.conf.example"
STARTER = _folder("examples", "starter")  # what `init` copies: apps/ and middleware/


def find_template(value: str | None, where: str, config_dir: str, template_dir: str) -> Path:
    """The template file a handler or page names: as given (relative to the config folder, then the
    working directory), then by file name in tyk.conf `template_path`, then by file name among the
    packaged templates, so Tyk's `templates/default_webhook.json` finds ours wherever the gateway runs.
    No name means `default_webhook.json` (template_path's, else ours); an absolute path is taken as is.
    Found nowhere: a ConfigError naming `where` and the value."""
    if value is not None and not isinstance(value, str):
        raise ConfigError(where, f'"template_path": expected a string, got {value!r}')
    given = Path(value or "default_webhook.json")
    if value and given.is_absolute():
        found = given if given.is_file() else None
    else:
        as_given = (Path(config_dir) / given, Path.cwd() / given) if value else ()
        found = next((p for p in as_given if p.is_file()), None) or template_by_name(given.name, template_dir)
    if found is None:
        raise ConfigError(where, f'"template_path": file not found: {value!r}')
    return found


def template_by_name(name: str, template_dir: str | Path) -> Path | None:
    """A template found by file name alone: tyk.conf `template_path`'s, else the packaged one."""
    return next((p for p in (Path(template_dir) / name, TEMPLATES / name) if p.is_file()), None)
