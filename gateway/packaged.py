"""The files shipped inside the package: Tyk's default templates, the example tyk.conf and its APIs, and
the starter folder `python -m gateway init` writes.

Owns finding them through importlib.resources, so an installed wheel behaves as a checkout does, and the
template search rule every template user shares, which never leaves `template_path` and the packaged
templates (links resolved). It must not parse or render what it finds.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from gateway.errors import ConfigError, Refused


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
    No name means `default_webhook.json` (template_path's, else ours).

    Only a file inside `template_path` or the packaged templates is ever returned, links resolved: a
    name that leaves them (absolute, or climbing with `..`) or a link that points out is Refused, naming
    `where` and the value. Found nowhere: a ConfigError naming `where` and the value."""
    if value is not None and not isinstance(value, str):
        raise ConfigError(where, f'"template_path": expected a string, got {value!r}')
    given = Path(value or "default_webhook.json")
    roots = [(Path(os.path.abspath(f)), Path(os.path.realpath(f))) for f in (template_dir, TEMPLATES)]
    as_given = (
        ([given] if given.is_absolute() else [Path(config_dir) / given, Path.cwd() / given]) if value else []
    )
    # A name that climbs is taken as written or not at all: never swapped for a same-named file elsewhere.
    climbs = given.is_absolute() or ".." in given.parts
    by_name = [] if climbs else [Path(template_dir) / given.name, TEMPLATES / given.name]
    for candidate in [*as_given, *by_name]:
        lexical = Path(os.path.abspath(candidate))  # `..` folded, links not followed
        if not any(lexical.is_relative_to(outer) for outer, _ in roots):
            continue  # not in a template folder: not ours to read, whatever is there
        real = Path(os.path.realpath(candidate))
        if not any(real.is_relative_to(inner) for _, inner in roots):
            if real.exists():  # a link out of the folder: /etc/passwd must not become a webhook body
                raise Refused(
                    where, f'"template_path": {value!r} is a link to a file outside {_folders(template_dir)}'
                )
            continue
        if real.is_file():
            return lexical
    if climbs:
        raise Refused(where, f'"template_path": {value!r} is outside {_folders(template_dir)}')
    raise ConfigError(where, f'"template_path": file not found: {value!r}')


def _folders(template_dir: str) -> str:
    return f"template_path ({template_dir}) and the packaged templates"


def template_by_name(name: str, template_dir: str | Path) -> Path | None:
    """A template found by file name alone: tyk.conf `template_path`'s, else the packaged one. A link
    that leads out of its folder is passed over (error pages have fixed names: nothing to report)."""
    for folder in (Path(template_dir), TEMPLATES):
        path = folder / Path(name).name
        if path.is_file() and Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder)):
            return path
    return None
