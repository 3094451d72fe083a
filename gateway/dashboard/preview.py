"""The template preview page: an inline Go template rendered against a sample event of any catalogued
type by `handlers.preview.preview`, the function `POST /tyk/templates/preview` uses. Nothing is sent,
stored or loaded into a handler; a template that cannot render is shown inline, naming the field.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.dashboard.common import Dash, checked_form, text
from gateway.errors import ConfigError
from gateway.events.catalog import Event
from gateway.handlers.preview import PreviewError, default_template, preview


def routes(dash: Dash) -> list[Route]:
    gw = dash.gw
    events = [event.value for event in Event]

    def default_text() -> str:
        """The default webhook template's text, to start from; "" if it cannot be read (the hint says)."""
        try:
            found = default_template(gw.config.config_dir, gw.config.template_path)
            return Path(found.path).read_text(encoding="utf-8")
        except (ConfigError, OSError):
            return ""

    async def page(request: Request) -> Response:
        values = {"event": events[0], "template": ""}
        result: dict[str, object] | None = None
        error = ""
        status = 200
        if request.method == "GET":
            values["template"] = default_text()
        else:
            form = await checked_form(request)
            # Browsers send a textarea's line breaks as CRLF (the HTML spec); the template file a handler
            # loads has LF, and the Go template translator does not parse every construct across a CR.
            raw = str(form.get("template") or "").replace("\r\n", "\n")
            values = {"event": text(form, "event"), "template": raw}
            try:
                result = preview(values, gw.config.config_dir, gw.config.template_path)
            except PreviewError as exc:
                error, status = str(exc), 400
        return await dash.page(
            request,
            "preview.html",
            status=status,
            events=events,
            values=values,
            result=result,
            error=error,
            title="Template preview",
        )

    return [Route("/dashboard/preview", page, methods=["GET", "POST"])]
