"""API calls skip the browser-only middleware; pages keep sessions and security headers."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app.api_scope import API_PATHS, ApiRoutes, BrowserOnly, is_api_path
from app.main import create_app, on_domain_error, on_http_error
from app.routes import consume
from app.settings import Settings
from tests.conftest import Provisioned


def test_api_paths() -> None:
    for path in ("/exceptions", "/client-reports", "/ping", "/api/3/store/", "/api/3/envelope/"):
        assert is_api_path(path), path
    for path in ("/", "/dashboard", "/exceptions/x", "/sso/login", "/heroku/resources", "/status", "/pingx"):
        assert not is_api_path(path), path


def test_browser_only_middleware_steps_aside_for_api_calls() -> None:
    async def has_session(request: Request) -> Response:
        return JSONResponse({"session": "session" in request.scope})

    app = Starlette(
        routes=[Route("/ping", has_session), Route("/page", has_session)],
        middleware=[Middleware(BrowserOnly, middleware=SessionMiddleware, secret_key="k" * 32)],
    )
    with TestClient(app) as client:
        assert client.get("/ping").json() == {"session": False}
        assert client.get("/page").json() == {"session": True}


def test_api_replies_say_nosniff_and_set_no_cookie(client: TestClient, resource: Provisioned) -> None:
    event = {"exception": [{"type": "ValueError", "value": "v"}]}
    for reply in (
        client.post("/exceptions", json=event, headers=resource.basic_auth()),
        client.post("/exceptions", json=event),  # an error reply too
        client.post("/ping", json={}),
    ):
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers.get_list("x-content-type-options") == ["nosniff"]
        assert "set-cookie" not in reply.headers


def test_api_paths_answer_json_even_to_a_browser(client: TestClient) -> None:
    reply = client.get("/client-reports", headers={"Accept": "text/html"})
    assert reply.status_code == 405
    assert reply.headers["content-type"] == "application/json"


def test_pages_keep_their_security_headers(client: TestClient) -> None:
    page = client.get("/status", headers={"Accept": "text/html"})
    assert "content-security-policy" in page.headers
    assert page.headers.get_list("x-content-type-options") == ["nosniff"]


def test_api_routes_answer_other_methods_as_the_router_would(client: TestClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        reply = client.request(method, "/exceptions")
        assert reply.status_code == 405
        assert reply.headers["allow"] == "POST"
        assert reply.json() == {"message": "Method Not Allowed"}
    # A path the router knows better: the trailing slash is redirected, not served here.
    assert client.post("/exceptions/", json={}, follow_redirects=False).status_code == 307


def test_an_unexpected_error_in_an_api_route_is_a_json_500(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    monkeypatch.setattr(consume, "api_routes", [*consume.api_routes[:2], Route("/ping", broken, methods=["POST"])])
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        reply = client.post("/ping", json={})
    assert reply.status_code == 500
    assert reply.json() == {"message": "internal server error"}


def test_api_routes_serve_exactly_the_api_paths() -> None:
    assert {route.path for route in consume.api_routes} == API_PATHS
    handlers = {"on_domain_error": on_domain_error, "on_http_error": on_http_error}
    with pytest.raises(ValueError, match="exactly"):
        ApiRoutes(Starlette(), routes=consume.api_routes[:1], **handlers)
    with pytest.raises(ValueError, match="POST endpoints only"):
        ApiRoutes(Starlette(), routes=[*consume.api_routes, Route("/ping", consume.ping)], **handlers)
