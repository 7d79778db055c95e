"""The one Jinja2 environment for every HTML page (dashboard, console, status page).

Autoescaping is on for every template: event fields are attacker-chosen text.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from dashboard.filters import FILTERS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
environment.filters.update(FILTERS)


def site_context(request: Request) -> dict[str, object]:
    """What every page gets: base.html's footer shows the support address on every page."""
    return {"support_email": request.app.state.ctx.settings.support_email}


templates = Jinja2Templates(env=environment, context_processors=[site_context])
