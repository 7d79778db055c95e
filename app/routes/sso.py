"""POST /sso/login: Heroku's single sign-on (PROTOCOL.md section 2).

Exempt from CSRF and Basic auth by design: the form is posted cross-site by Heroku's dashboard and
authenticated by its tokens. Every failure is a 403 page, never a redirect to a login form.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.context import get_context
from app.errors import Forbidden
from app.http import JSONResponse, error_body, read_body
from app.services import sso
from dashboard.templating import templates

MAX_BODY = 32 * 1024
NAV_COOKIE = "heroku-nav-data"


def _fields(body: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=100):
        fields.setdefault(key, value)  # the first value of a repeated field wins
    return fields


def _refused(request: Request, exc: Forbidden) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        context = {"support_email": get_context(request).settings.support_email, "message": exc.message}
        return templates.TemplateResponse(request, "dashboard/sso_refused.html", context, status_code=403)
    return JSONResponse(error_body(exc.message), status_code=403)


async def login(request: Request) -> Response:
    ctx = get_context(request)
    now = int(time.time())
    try:
        fields = _fields(await read_body(request, MAX_BODY))
        # Token and time first: a forged or stale post never reaches the database.
        claims = sso.verify(fields, salt=ctx.settings.sso_salt, now=now)
        resource = await sso.sign_in(ctx.db, claims, now=now)
    except Forbidden as exc:
        return _refused(request, exc)
    # A fresh session: drops any operator session (and its CSRF token) this browser had.
    request.session.clear()
    request.session.update({"resource_id": resource.id, "via": "heroku", "app": claims.app, "email": claims.email})
    issue = claims.deep_link_issue
    response = RedirectResponse(f"/dashboard/issues/{issue}" if issue else "/dashboard", status_code=303)
    if claims.nav_data is not None:
        # Verbatim (no cookie quoting): Boomerang reads it back as Heroku sent it.
        secure = "; Secure" if ctx.settings.secure_cookies else ""
        response.headers.append("set-cookie", f"{NAV_COOKIE}={claims.nav_data}; Path=/; SameSite=Lax{secure}")
    return response


routes: list[BaseRoute] = [Route("/sso/login", login, methods=["POST"])]
