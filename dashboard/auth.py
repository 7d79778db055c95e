"""Who is looking: session conventions shared by the dashboard and the operator console.

A customer session comes only from Heroku SSO and is scoped to one resource:
  session["resource_id"] (int), session["via"] == "heroku", session["app"] (Heroku app name, for
  the Boomerang nav header), session["email"] (display only; never a login).
An operator session comes only from the console login: session["operator_id"] (int).
The two never mix: an SSO login clears any operator session and the console login clears any
customer session.
"""

from __future__ import annotations

from starlette.requests import Request

from app.errors import Forbidden, Unauthorized


def customer_resource_id(request: Request) -> int | None:
    value = request.session.get("resource_id")
    return value if isinstance(value, int) else None


def require_customer(request: Request) -> int:
    """The resource this session may see; every dashboard query is scoped by it."""
    resource_id = customer_resource_id(request)
    if resource_id is None:
        raise Unauthorized("sign in through your Heroku dashboard (Resources → Tracebin)")
    return resource_id


def operator_id(request: Request) -> int | None:
    value = request.session.get("operator_id")
    return value if isinstance(value, int) else None


def require_operator(request: Request) -> int:
    found = operator_id(request)
    if found is None:
        raise Forbidden("operators only")
    return found


def is_heroku_session(request: Request) -> bool:
    return request.session.get("via") == "heroku"
