"""CSRF protection for HTML forms: a random token kept in the signed session cookie.

Every dashboard and console form carries it as the hidden field `csrf_token`; every POST handler
calls `check_csrf` before acting. The SSO endpoint is the one exemption (PROTOCOL.md section 2).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from starlette.requests import Request

from app.errors import Forbidden
from app.http import secrets_match

SESSION_KEY = "csrf"
FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def check_csrf(request: Request, form: Mapping[str, object]) -> None:
    expected = request.session.get(SESSION_KEY)
    given = form.get(FIELD) or request.headers.get("x-csrf-token", "")
    if not isinstance(expected, str) or not isinstance(given, str) or not secrets_match(given, expected):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")
