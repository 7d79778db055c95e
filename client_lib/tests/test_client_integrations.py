"""Each integration on a tiny real app: excepthooks, logging, WSGI (Flask, plain), ASGI (Starlette), jobs."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from client_support import Sink
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import tracebin


@pytest.fixture
def client(sink: Sink, spool_dir: str) -> Sink:
    tracebin.init(sink.url, spool_dir=spool_dir, handle_sigterm=False)
    return sink


def test_sys_excepthook_captures_and_chains(sink: Sink, spool_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[BaseException] = []

    def previous(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        seen.append(exc)

    monkeypatch.setattr(sys, "excepthook", previous)
    tracebin.init(sink.url, spool_dir=spool_dir, handle_sigterm=False)
    try:
        raise LookupError("unhandled")
    except LookupError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert tracebin.flush(5)
    assert [str(e) for e in seen] == ["unhandled"]
    (event,) = sink.events()
    assert event["exception"][-1]["mechanism"] == {"type": "excepthook", "handled": False}
    tracebin.close()
    assert sys.excepthook is previous  # close() puts the previous hook back


def test_threading_excepthook_captures_and_chains(sink: Sink, spool_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", seen.append)
    tracebin.init(sink.url, spool_dir=spool_dir, handle_sigterm=False)

    def work() -> None:
        raise ConnectionError("in a thread")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert tracebin.flush(5)
    assert [str(args.exc_value) for args in seen] == ["in a thread"]
    (event,) = sink.events()
    assert event["exception"][-1]["type"] == "ConnectionError"
    assert event["exception"][-1]["mechanism"] == {"type": "threading", "handled": False}


def test_logged_exceptions_become_events_even_without_propagation(client: Sink) -> None:
    quiet = logging.getLogger("quiet.worker")
    quiet.propagate = False  # like uvicorn's and gunicorn's loggers
    try:
        try:
            raise TimeoutError("upstream")
        except TimeoutError:
            quiet.exception("job %s failed", 7)
        logging.getLogger("app").error("no exception here")  # a breadcrumb, not an event
        logging.getLogger("tracebin").error("the library's own records are never reported")
    finally:
        quiet.propagate = True
    assert tracebin.flush(5)
    (event,) = client.events()
    assert (event["logger"], event["message"], event["level"]) == ("quiet.worker", "job 7 failed", "error")
    assert event["exception"][-1]["mechanism"] == {"type": "logging", "handled": True}


def test_logging_handler_reports_error_records(client: Sink) -> None:
    log = logging.getLogger("explicit")
    handler = tracebin.LoggingHandler()
    log.addHandler(handler)
    try:
        log.warning("below the handler's level")
        log.error("payment %s declined", "p-1")
    finally:
        log.removeHandler(handler)
    assert tracebin.flush(5)
    assert [(e["message"], e["level"], e["logger"]) for e in client.events()] == [
        ("payment p-1 declined", "error", "explicit")
    ]


def _flask_app() -> Flask:
    app = Flask("shop")

    @app.route("/boom")
    def boom() -> str:
        tracebin.set_user({"id": "u1"})
        raise ZeroDivisionError("flask view")

    @app.route("/ok")
    def ok() -> str:
        return "ok"

    app.wsgi_app = tracebin.WsgiMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def flask_server() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _flask_app(), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_flask_on_a_real_wsgi_server(client: Sink, flask_server: str) -> None:
    assert httpx.get(f"{flask_server}/ok").text == "ok"
    reply = httpx.get(f"{flask_server}/boom?q=1&token=abc", headers={"Cookie": "sid=secret"})
    assert reply.status_code == 500
    assert tracebin.flush(5)
    (event,) = client.events()  # Flask logs it; the middleware's scope gives the request
    assert event["exception"][-1]["type"] == "ZeroDivisionError"
    assert event["user"] == {"id": "u1"}
    request = event["request"]
    assert request["method"] == "GET" and request["url"].endswith("/boom")
    assert request["query_string"] == "q=1&token=[Filtered]"
    assert request["headers"]["Cookie"] == "[Filtered]"


def test_plain_wsgi_errors_are_captured_and_reraised(client: Sink) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise KeyError("wsgi")

    def streaming(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"part"
        raise ValueError("while streaming")

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/x", "HTTP_HOST": "example.com", "wsgi.url_scheme": "https"}
    with pytest.raises(KeyError):
        tracebin.WsgiMiddleware(app)(environ, lambda *a: None)
    body = tracebin.WsgiMiddleware(streaming)(environ, lambda *a: None)
    with pytest.raises(ValueError):
        list(body)
    assert tracebin.flush(5)
    assert sorted((e["exception"][-1]["type"], e["request"]["url"]) for e in client.events()) == [
        ("KeyError", "https://example.com/x"),
        ("ValueError", "https://example.com/x"),
    ]


def test_starlette_errors_are_captured_and_reraised(client: Sink) -> None:
    async def boom(request: Request) -> PlainTextResponse:
        tracebin.set_tag("route", "boom")
        raise RuntimeError("starlette view")

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/boom", boom), Route("/ok", ok)])
    app.add_middleware(tracebin.AsgiMiddleware)
    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.get("/ok").text == "ok"
        assert http.get("/boom?x=1", headers={"Authorization": "Bearer t"}).status_code == 500
    assert tracebin.flush(5)
    (event,) = client.events()
    assert event["exception"][-1]["type"] == "RuntimeError"
    assert event["exception"][-1]["mechanism"] == {"type": "asgi", "handled": False}
    assert event["tags"] == {"route": "boom"}
    assert event["request"]["query_string"] == "x=1"
    assert event["request"]["headers"]["Authorization"] == "[Filtered]"


def test_jobs_as_decorator_and_context_manager(client: Sink) -> None:
    @tracebin.job()
    def send_invoice(number: int) -> None:
        raise OSError(f"smtp down for {number}")

    @tracebin.job("nightly-report", queue="low")
    async def report() -> None:
        raise ArithmeticError("async job")

    with pytest.raises(OSError):
        send_invoice(12)
    with pytest.raises(ArithmeticError):
        asyncio.run(report())
    with pytest.raises(LookupError), tracebin.job("inline") as scope:
        scope.set_extra("attempt", 2)
        raise LookupError("inline job")
    with tracebin.job("fine"):
        pass
    assert tracebin.flush(5)
    got = sorted((e["exception"][-1]["type"], e["tags"].get("job"), e["tags"].get("queue")) for e in client.events())
    assert got == [
        ("ArithmeticError", "nightly-report", "low"),
        ("LookupError", "inline", None),
        ("OSError", "test_jobs_as_decorator_and_context_manager.<locals>.send_invoice", None),
    ]
    assert tracebin.set_tag("after", "job") is None
